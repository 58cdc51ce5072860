package dev.ipc.internal;

import dev.ipc.ErrorCode;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * The one codec of the runtime's protocol, as {@code docs/PROTOCOL.md} describes it: {@link #decode} and
 * {@link #encode} turn a frame's bytes (the part after its {@code u32} length) into a {@link Frame} and back, and hold
 * every byte offset, length and version rule; {@link #readHello} reads the hello from a fresh connection's raw stream.
 * All integers are big-endian and unsigned; strings are UTF-8 and run to the end of the frame.
 */
public final class Codec {

    /** The newest protocol version this library speaks, and the one its client asks for. */
    public static final int VERSION = 3;
    /** The oldest version a server still speaks: version 1's WELCOME and GOAWAY lack their last fields. */
    public static final int OLDEST_VERSION = 1;
    /** The first version whose REQUEST carries a timeout and a window, and that has CANCEL, STREAM and CREDIT. */
    public static final int STREAMS = 3;
    /** The magic at the start of a HELLO: "IPC" in ASCII. */
    public static final int MAGIC = 0x495043;
    /** The largest HELLO body a server reads. */
    public static final int MAX_HELLO = 64;

    public static final byte HELLO = 1;
    public static final byte WELCOME = 2;
    public static final byte REQUEST = 3;
    public static final byte RESPONSE = 4;
    public static final byte ERROR = 5;
    public static final byte GOAWAY = 6;
    public static final byte CANCEL = 11;
    public static final byte STREAM = 12;
    public static final byte CREDIT = 13;

    /** The most bytes of UTF-8 an ERROR's or a GOAWAY's message carries (PROTOCOL.md E1); a longer one is cut. */
    public static final int MAX_MESSAGE = 1024;

    /** Type and request id: the header of a RESPONSE, a STREAM, a CANCEL, and a REQUEST before version 3. */
    private static final int ID_HEADER = 5;
    /** Type, request id, timeout and window: the header of a version 3 REQUEST. */
    private static final int REQUEST_HEADER_V3 = 13;
    /** Type, request id and code: the header of an ERROR. */
    private static final int ERROR_HEADER = 7;

    private Codec() {}

    /** The bytes a REQUEST of {@code version} adds around its payload: 13 from version 3, 5 before. */
    public static int requestOverhead(int version) {
        return version >= STREAMS ? REQUEST_HEADER_V3 : ID_HEADER;
    }

    /**
     * The largest frame a client of {@code version} sends for a payload limit: the payload and its REQUEST's header, at
     * most 2^31 - 1.
     */
    public static int frameLimit(int maxPayload, int version) {
        int overhead = requestOverhead(version);
        return maxPayload > Integer.MAX_VALUE - overhead ? Integer.MAX_VALUE : maxPayload + overhead;
    }

    /**
     * The version a server speaks with a client that asked for {@code asked}: the newest both speak, or -1 if none (the
     * client is older than {@link #OLDEST_VERSION}).
     */
    public static int negotiate(int asked) {
        return asked < OLDEST_VERSION ? -1 : Math.min(asked, VERSION);
    }

    /** Whether a connection of {@code version} has deadlines, CANCEL, STREAM and CREDIT. */
    public static boolean hasStreams(int version) {
        return version >= STREAMS;
    }

    /** The milliseconds a version 3 REQUEST carries for {@code timeout}: rounded up, 0 for none or past 2^32 - 1. */
    public static long timeoutMillis(Duration timeout) {
        if (timeout.isZero() || timeout.isNegative()) {
            return 0;
        }
        long millis;
        try {
            millis = timeout.plusNanos(999_999).toMillis();
        } catch (ArithmeticException e) {
            return 0;
        }
        return millis > 0xffffffffL ? 0 : millis;
    }

    /**
     * The bytes of {@code frame} as a connection of {@code version} sends them (without the length in front).
     *
     * @throws IllegalArgumentException for a STREAM, CANCEL or CREDIT before version 3, which has none
     */
    public static byte[] encode(Frame frame, int version) {
        if (frame instanceof Frame.Request request) {
            return hasStreams(version)
                    ? header(REQUEST, request.id(), REQUEST_HEADER_V3 + request.payload().length)
                            .putInt((int) request.timeoutMillis())
                            .putInt((int) request.window())
                            .put(request.payload())
                            .array()
                    : withId(REQUEST, request.id(), request.payload());
        } else if (frame instanceof Frame.Response response) {
            return withId(RESPONSE, response.id(), response.payload());
        } else if (frame instanceof Frame.Stream stream) {
            return withId(streamsOnly(STREAM, version), stream.id(), stream.payload());
        } else if (frame instanceof Frame.Error error) {
            byte[] text = message(error.message());
            return header(ERROR, error.id(), ERROR_HEADER + text.length)
                    .putShort((short) error.code())
                    .put(text)
                    .array();
        } else if (frame instanceof Frame.Cancel cancel) {
            return header(streamsOnly(CANCEL, version), cancel.id(), ID_HEADER).array();
        } else if (frame instanceof Frame.Credit credit) {
            return header(streamsOnly(CREDIT, version), credit.id(), 9)
                    .putInt((int) Math.min(credit.count(), 0xffffffffL))
                    .array();
        } else if (frame instanceof Frame.GoAway goAway) {
            return goAway(goAway, version);
        } else if (frame instanceof Frame.Welcome welcome) {
            ByteBuffer bytes = ByteBuffer.allocate(version >= 2 ? 11 : 7)
                    .put(WELCOME)
                    .putShort((short) welcome.version())
                    .putInt(welcome.maxPayload());
            return version >= 2 ? bytes.putInt(welcome.maxInFlight()).array() : bytes.array();
        }
        return hello(((Frame.Hello) frame).version());
    }

    /** An ERROR frame's bytes, for those that refuse a connection before any version is spoken (id 0 usually). */
    public static byte[] error(int id, ErrorCode code, String message) {
        return encode(new Frame.Error(id, code, message), VERSION);
    }

    /** HELLO: type, magic (3 bytes), version (u16). */
    public static byte[] hello(int version) {
        return ByteBuffer.allocate(6)
                .put(HELLO)
                .put((byte) (MAGIC >> 16))
                .put((byte) (MAGIC >> 8))
                .put((byte) MAGIC)
                .putShort((short) version)
                .array();
    }

    private static byte[] goAway(Frame.GoAway goAway, int version) {
        byte[] text = message(goAway.message());
        if (version < 2) {
            return ByteBuffer.allocate(1 + text.length).put(GOAWAY).put(text).array();
        }
        return header(GOAWAY, (int) goAway.lastId(), ID_HEADER + text.length)
                .put(text)
                .array();
    }

    /** A message in UTF-8, cut at the last whole character within {@link #MAX_MESSAGE} bytes. */
    private static byte[] message(String message) {
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        if (text.length <= MAX_MESSAGE) {
            return text;
        }
        int end = MAX_MESSAGE;
        while (end > 0 && (text[end] & 0xc0) == 0x80) {
            end--; // text[end] continues a character: the cut goes before the character's first byte
        }
        return Arrays.copyOf(text, end);
    }

    private static ByteBuffer header(byte type, int id, int length) {
        return ByteBuffer.allocate(length).put(type).putInt(id);
    }

    private static byte[] withId(byte type, int id, byte[] payload) {
        return header(type, id, ID_HEADER + payload.length).put(payload).array();
    }

    private static byte streamsOnly(byte type, int version) {
        if (!hasStreams(version)) {
            throw new IllegalArgumentException(name(type) + " frames exist from protocol version 3, not " + version);
        }
        return type;
    }

    /**
     * The frame {@code bytes} hold (without the length in front), as a connection of {@code version} reads them. A
     * payload is copied out of {@code bytes} once, into the frame.
     *
     * @throws ProtocolException naming the rule broken: an empty frame, a frame shorter than its type's header or not
     *     of its type's fixed length, a type this version lacks, an unknown type
     */
    public static Frame decode(byte[] bytes, int version) throws ProtocolException {
        if (bytes.length == 0) {
            throw new ProtocolException("empty frame: every frame starts with its type");
        }
        byte type = bytes[0];
        switch (type) {
            case REQUEST:
                int header = requestOverhead(version);
                atLeast(bytes, header, hasStreams(version) ? "type, request id, timeout, window" : "type, request id");
                return new Frame.Request(
                        intAt(bytes, 1),
                        hasStreams(version) ? u32At(bytes, 5) : 0,
                        hasStreams(version) ? u32At(bytes, 9) : 0,
                        Arrays.copyOfRange(bytes, header, bytes.length));
            case RESPONSE:
                atLeast(bytes, ID_HEADER, "type, request id");
                return new Frame.Response(intAt(bytes, 1), Arrays.copyOfRange(bytes, ID_HEADER, bytes.length));
            case STREAM:
                inVersion(bytes, version);
                atLeast(bytes, ID_HEADER, "type, request id");
                return new Frame.Stream(intAt(bytes, 1), Arrays.copyOfRange(bytes, ID_HEADER, bytes.length));
            case ERROR:
                atLeast(bytes, ERROR_HEADER, "type, request id, code");
                return new Frame.Error(intAt(bytes, 1), u16At(bytes, 5), text(bytes, ERROR_HEADER));
            case CANCEL:
                inVersion(bytes, version);
                exactly(bytes, ID_HEADER, "type, request id");
                return new Frame.Cancel(intAt(bytes, 1));
            case CREDIT:
                inVersion(bytes, version);
                exactly(bytes, 9, "type, request id, count");
                return new Frame.Credit(intAt(bytes, 1), u32At(bytes, 5));
            case GOAWAY:
                if (version < 2) {
                    return new Frame.GoAway(-1, text(bytes, 1));
                }
                atLeast(bytes, ID_HEADER, "type, last request id");
                return new Frame.GoAway(u32At(bytes, 1), text(bytes, ID_HEADER));
            case WELCOME:
                return welcome(bytes);
            case HELLO:
                atLeast(bytes, 6, "type, magic, version");
                return new Frame.Hello(u16At(bytes, 4));
            default:
                throw new ProtocolException("unknown frame type " + type + " (" + bytes.length + " bytes)");
        }
    }

    /**
     * A WELCOME of any version this side speaks: version, the server's payload limit, and its in-flight limit (0 where
     * a version 1 WELCOME does not say).
     */
    private static Frame.Welcome welcome(byte[] bytes) throws ProtocolException {
        atLeast(bytes, 3, "type, version");
        int version = u16At(bytes, 1);
        if (version < OLDEST_VERSION || version > VERSION) {
            throw new ProtocolException("the server answered with protocol version " + version + "; this client speaks "
                    + OLDEST_VERSION + " to " + VERSION);
        }
        int length = version >= 2 ? 11 : 7;
        if (bytes.length < length) {
            throw new ProtocolException(
                    "a version " + version + " WELCOME is at least " + length + " bytes, not " + bytes.length);
        }
        return new Frame.Welcome(version, intAt(bytes, 3), version >= 2 ? intAt(bytes, 7) : 0);
    }

    /**
     * The request id of a REQUEST that was dropped unread, from its first bytes ({@link OverBudgetException#head()}).
     *
     * @throws ProtocolException if they are not the start of a REQUEST
     */
    public static int requestIdOf(byte[] head, int length) throws ProtocolException {
        if (head.length < ID_HEADER || head[0] != REQUEST) {
            throw new ProtocolException("a frame of " + length + " bytes of type "
                    + (head.length == 0 ? "none" : head[0]) + " where only REQUEST frames are that long");
        }
        return intAt(head, 1);
    }

    private static void atLeast(byte[] bytes, int length, String fields) throws ProtocolException {
        if (bytes.length < length) {
            throw new ProtocolException("a " + name(bytes[0]) + " frame is at least " + length + " bytes (" + fields
                    + "), not " + bytes.length);
        }
    }

    private static void exactly(byte[] bytes, int length, String fields) throws ProtocolException {
        if (bytes.length != length) {
            throw new ProtocolException(
                    "a " + name(bytes[0]) + " frame is " + length + " bytes (" + fields + "), not " + bytes.length);
        }
    }

    private static void inVersion(byte[] bytes, int version) throws ProtocolException {
        if (!hasStreams(version)) {
            throw new ProtocolException(name(bytes[0]) + " frames (type " + bytes[0]
                    + ") exist from protocol version 3;" + " this connection speaks version " + version);
        }
    }

    /** The name of a frame type, for messages. */
    public static String name(byte type) {
        switch (type) {
            case HELLO:
                return "HELLO";
            case WELCOME:
                return "WELCOME";
            case REQUEST:
                return "REQUEST";
            case RESPONSE:
                return "RESPONSE";
            case ERROR:
                return "ERROR";
            case GOAWAY:
                return "GOAWAY";
            case CANCEL:
                return "CANCEL";
            case STREAM:
                return "STREAM";
            case CREDIT:
                return "CREDIT";
            default:
                return "type " + type;
        }
    }

    private static int intAt(byte[] bytes, int offset) {
        return (bytes[offset] & 0xff) << 24
                | (bytes[offset + 1] & 0xff) << 16
                | (bytes[offset + 2] & 0xff) << 8
                | (bytes[offset + 3] & 0xff);
    }

    private static long u32At(byte[] bytes, int offset) {
        return intAt(bytes, offset) & 0xffffffffL;
    }

    private static int u16At(byte[] bytes, int offset) {
        return (bytes[offset] & 0xff) << 8 | (bytes[offset + 1] & 0xff);
    }

    private static String text(byte[] bytes, int offset) {
        int start = Math.min(offset, bytes.length);
        return new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8);
    }

    /**
     * Reads the client's HELLO from a fresh connection's raw stream.
     *
     * @throws ProtocolException naming what is wrong if it is not a HELLO
     * @throws EOFException if the stream ends first
     */
    public static Frame.Hello readHello(InputStream in) throws IOException {
        byte[] header = readFully(in, 4, "the hello's length");
        int length = ByteBuffer.wrap(header).getInt();
        if (looksLikeTls(header)) {
            throw new ProtocolException("bad hello: the client speaks TLS (bytes " + hex(header) + ") to a plain "
                    + "endpoint; use tls:// on both sides, or tcp:// on both");
        }
        if (length < 6 || length > MAX_HELLO) {
            throw new ProtocolException("bad hello: its length is " + Integer.toUnsignedString(length) + " (bytes "
                    + hex(header) + "), not 6 to " + MAX_HELLO + "; is the client speaking this protocol?");
        }
        byte[] body = readFully(in, length, "the hello");
        int magic = (body[1] & 0xff) << 16 | (body[2] & 0xff) << 8 | (body[3] & 0xff);
        if (body[0] == SecretHandshake.AUTH_HELLO && magic == MAGIC) {
            throw new ProtocolException("the client wants to prove a shared secret, but this server has none "
                    + "configured (set the same secretFile or secretEnv on both sides)");
        }
        if (body[0] != HELLO || magic != MAGIC) {
            throw new ProtocolException(
                    "bad hello: it starts with " + hex(Arrays.copyOf(body, 4)) + ", not 01 49 50 43 (HELLO, \"IPC\")");
        }
        return new Frame.Hello(u16At(body, 4));
    }

    /** Whether a frame header is really the start of a TLS record (handshake or alert, version 3.x). */
    public static boolean looksLikeTls(byte[] header) {
        return header.length >= 2 && (header[0] == 0x16 || header[0] == 0x15) && header[1] == 0x03;
    }

    private static byte[] readFully(InputStream in, int length, String what) throws IOException {
        byte[] bytes = in.readNBytes(length);
        if (bytes.length < length) {
            throw new EOFException(
                    "the connection ended inside " + what + ": after " + bytes.length + " of " + length + " bytes");
        }
        return bytes;
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        for (byte b : bytes) {
            out.append(out.length() == 0 ? "" : " ").append(String.format("%02x", b & 0xff));
        }
        return out.toString();
    }
}
