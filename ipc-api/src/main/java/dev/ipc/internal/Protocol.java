package dev.ipc.internal;

import dev.ipc.ApplicationException;
import dev.ipc.ErrorCode;
import dev.ipc.RemoteException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * The wire protocol of {@code IpcServer} and {@code IpcClient}, as {@code docs/PROTOCOL.md} describes it.
 *
 * <p>Every frame is a {@code u32} big-endian length, then that many bytes: a one-byte type, then the type's fields, all
 * big-endian. The first frame from the client is a HELLO, at most {@link #MAX_HELLO} bytes; the server answers WELCOME
 * or ERROR.
 */
public final class Protocol {

    /** The newest protocol version this library speaks, and the one its client asks for. */
    public static final int VERSION = 3;
    /** The oldest version a server still speaks: version 1's WELCOME and GOAWAY lack their last fields. */
    public static final int OLDEST_VERSION = 1;
    /** The magic at the start of a HELLO: "IPC" in ASCII. */
    public static final int MAGIC = 0x495043;
    /** The largest HELLO body a server reads. */
    public static final int MAX_HELLO = 64;
    /** Bytes a RESPONSE or STREAM (and a REQUEST before version 3) adds around its payload: type and request id. */
    public static final int OVERHEAD = 5;
    /** Bytes a version 3 REQUEST adds around its payload: type, request id, timeout and window. */
    public static final int REQUEST_OVERHEAD_V3 = 13;
    /** The first version whose REQUEST carries a timeout and a window, and that has CANCEL, STREAM and CREDIT. */
    public static final int STREAMS = 3;

    public static final byte HELLO = 1;
    public static final byte WELCOME = 2;
    public static final byte REQUEST = 3;
    public static final byte RESPONSE = 4;
    public static final byte ERROR = 5;
    public static final byte GOAWAY = 6;
    public static final byte CANCEL = 11;
    public static final byte STREAM = 12;
    public static final byte CREDIT = 13;

    private Protocol() {}

    /**
     * The largest frame a client of {@code version} sends for a payload limit: the payload and its REQUEST's header (5
     * bytes, or 13 from version 3), at most 2^31 - 1.
     */
    public static int frameLimit(int maxPayload, int version) {
        int overhead = requestOverhead(version);
        return maxPayload > Integer.MAX_VALUE - overhead ? Integer.MAX_VALUE : maxPayload + overhead;
    }

    /** The bytes a REQUEST of {@code version} adds around its payload. */
    public static int requestOverhead(int version) {
        return version >= STREAMS ? REQUEST_OVERHEAD_V3 : OVERHEAD;
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

    /**
     * The version a server speaks with a client that asked for {@code asked}: the newest both speak, or -1 if none (the
     * client is older than {@link #OLDEST_VERSION}).
     */
    public static int negotiate(int asked) {
        return asked < OLDEST_VERSION ? -1 : Math.min(asked, VERSION);
    }

    /**
     * WELCOME: type, version (u16), the largest payload the server accepts (u32), and from version 2 the most requests
     * it takes in flight on the connection (u32).
     */
    public static byte[] welcome(int version, int maxPayload, int maxInFlight) {
        ByteBuffer welcome = ByteBuffer.allocate(version >= 2 ? 11 : 7)
                .put(WELCOME)
                .putShort((short) version)
                .putInt(maxPayload);
        if (version >= 2) {
            welcome.putInt(maxInFlight);
        }
        return welcome.array();
    }

    /**
     * A version 3 REQUEST: type, request id (u32), timeout (u32 milliseconds; 0 for none), window (u32: STREAM frames
     * the client takes before it grants more; 0 for a single reply), payload.
     */
    public static byte[] request(int id, long timeoutMillis, int window, byte[] payload) {
        return ByteBuffer.allocate(REQUEST_OVERHEAD_V3 + payload.length)
                .put(REQUEST)
                .putInt(id)
                .putInt((int) timeoutMillis)
                .putInt(window)
                .put(payload)
                .array();
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

    /** CANCEL (version 3): type, request id (u32). */
    public static byte[] cancel(int id) {
        return ByteBuffer.allocate(5).put(CANCEL).putInt(id).array();
    }

    /** CREDIT (version 3): type, request id (u32), count (u32). */
    public static byte[] credit(int id, int count) {
        return ByteBuffer.allocate(9).put(CREDIT).putInt(id).putInt(count).array();
    }

    /** A version 3 REQUEST's timeout in milliseconds (unsigned). */
    public static long requestTimeout(byte[] frame) {
        return ByteBuffer.wrap(frame, 5, 4).getInt() & 0xffffffffL;
    }

    /** A version 3 REQUEST's window (unsigned). */
    public static long requestWindow(byte[] frame) {
        return ByteBuffer.wrap(frame, 9, 4).getInt() & 0xffffffffL;
    }

    /** A CREDIT's count (unsigned). */
    public static long creditCount(byte[] frame) {
        return ByteBuffer.wrap(frame, 5, 4).getInt() & 0xffffffffL;
    }

    /** REQUEST (before version 3), RESPONSE or STREAM: type, request id (u32), payload. */
    public static byte[] call(byte type, int id, byte[] payload) {
        return ByteBuffer.allocate(OVERHEAD + payload.length)
                .put(type)
                .putInt(id)
                .put(payload)
                .array();
    }

    /** ERROR: type, request id (u32, 0 for the connection), code (u16), UTF-8 message. */
    public static byte[] error(int id, ErrorCode code, String message) {
        return error(id, code.code(), message);
    }

    /** ERROR with a code by number: an application's (1000 to 65535), say. */
    public static byte[] error(int id, int code, String message) {
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(7 + text.length)
                .put(ERROR)
                .putInt(id)
                .putShort((short) code)
                .put(text)
                .array();
    }

    /** The error an ERROR frame carries, as the exception a caller gets: an application's, or the protocol's. */
    public static RemoteException remoteError(byte[] frame) throws ProtocolException {
        ErrorCode code = errorCode(frame);
        String message = errorMessage(frame);
        if (code == ErrorCode.APPLICATION) {
            return new ApplicationException(codeNumber(frame), message);
        }
        return new RemoteException(code, message);
    }

    /**
     * GOAWAY: type, from version 2 the id of the last request the server takes on the connection (u32, 0 for none), and
     * a UTF-8 message.
     */
    public static byte[] goaway(int version, int lastId, String message) {
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        ByteBuffer goaway =
                ByteBuffer.allocate((version >= 2 ? 5 : 1) + text.length).put(GOAWAY);
        if (version >= 2) {
            goaway.putInt(lastId);
        }
        return goaway.put(text).array();
    }

    /**
     * Reads the client's HELLO from a fresh connection's raw stream and returns the version it asks for.
     *
     * @throws ProtocolException naming what is wrong if it is not a HELLO
     * @throws EOFException if the stream ends first
     */
    public static int readHello(InputStream in) throws IOException {
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
        ByteBuffer body = ByteBuffer.wrap(readFully(in, length, "the hello"));
        byte type = body.get();
        int magic = (body.get() & 0xff) << 16 | (body.get() & 0xff) << 8 | (body.get() & 0xff);
        if (type == SecretHandshake.AUTH_HELLO && magic == MAGIC) {
            throw new ProtocolException("the client wants to prove a shared secret, but this server has none "
                    + "configured (set the same secretFile or secretEnv on both sides)");
        }
        if (type != HELLO || magic != MAGIC) {
            throw new ProtocolException("bad hello: it starts with " + hex(Arrays.copyOf(body.array(), 4))
                    + ", not 01 49 50 43 (HELLO, \"IPC\")");
        }
        return body.getShort() & 0xffff;
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

    /** The type of a frame, checking it has one. */
    public static byte type(byte[] frame) throws ProtocolException {
        if (frame.length == 0) {
            throw new ProtocolException("empty frame: every frame starts with its type");
        }
        return frame[0];
    }

    /** The request id of a REQUEST, RESPONSE or ERROR frame. */
    public static int id(byte[] frame) throws ProtocolException {
        if (frame.length < OVERHEAD) {
            throw new ProtocolException(
                    "frame of type " + frame[0] + " is " + frame.length + " bytes, too short for its request id");
        }
        return ByteBuffer.wrap(frame, 1, 4).getInt();
    }

    /** The payload of a RESPONSE or STREAM frame (or a REQUEST before version 3). */
    public static byte[] payload(byte[] frame) {
        return Arrays.copyOfRange(frame, OVERHEAD, frame.length);
    }

    /** The payload of a REQUEST of {@code version}. */
    public static byte[] requestPayload(byte[] frame, int version) {
        return Arrays.copyOfRange(frame, requestOverhead(version), frame.length);
    }

    /** The code of an ERROR frame. */
    public static ErrorCode errorCode(byte[] frame) throws ProtocolException {
        if (frame.length < 7) {
            throw new ProtocolException("ERROR frame of " + frame.length + " bytes, too short for its code");
        }
        return ErrorCode.of(codeNumber(frame));
    }

    /** The code of a frame this side made, if it is an ERROR; null for any other frame. */
    public static ErrorCode errorCodeIfError(byte[] frame) {
        return frame.length >= 7 && frame[0] == ERROR ? ErrorCode.of(codeNumber(frame)) : null;
    }

    private static int codeNumber(byte[] frame) {
        return ByteBuffer.wrap(frame, 5, 2).getShort() & 0xffff;
    }

    /** The message of an ERROR frame. */
    public static String errorMessage(byte[] frame) {
        return new String(frame, 7, Math.max(0, frame.length - 7), StandardCharsets.UTF_8);
    }

    /** The last request id of a GOAWAY frame of {@code version}; -1 for version 1, whose GOAWAY has none. */
    public static long goawayLastId(int version, byte[] frame) throws ProtocolException {
        if (version < 2) {
            return -1;
        }
        if (frame.length < 5) {
            throw new ProtocolException(
                    "GOAWAY frame of " + frame.length + " bytes, too short for its last request id");
        }
        return ByteBuffer.wrap(frame, 1, 4).getInt() & 0xffffffffL;
    }

    /** The message of a GOAWAY frame of {@code version}. */
    public static String goawayMessage(int version, byte[] frame) {
        int start = Math.min(frame.length, version >= 2 ? 5 : 1);
        return new String(frame, start, frame.length - start, StandardCharsets.UTF_8);
    }

    /**
     * The WELCOME's fields: version, the server's payload limit, and its in-flight limit (0 where a version 1 WELCOME
     * does not say).
     *
     * @throws ProtocolException if it is not a WELCOME of a version this side speaks, or too short for its version
     */
    public static int[] welcomeFields(byte[] frame) throws ProtocolException {
        if (frame.length < 3 || frame[0] != WELCOME) {
            throw new ProtocolException("expected a WELCOME frame (type 2), got type "
                    + (frame.length == 0 ? "none" : frame[0]) + " of " + frame.length + " bytes");
        }
        ByteBuffer body = ByteBuffer.wrap(frame, 1, frame.length - 1);
        int version = body.getShort() & 0xffff;
        if (version < OLDEST_VERSION || version > VERSION) {
            throw new ProtocolException("the server answered with protocol version " + version + "; this client speaks "
                    + OLDEST_VERSION + " to " + VERSION);
        }
        int length = version >= 2 ? 11 : 7;
        if (frame.length < length) {
            throw new ProtocolException(
                    "a version " + version + " WELCOME is at least " + length + " bytes, not " + frame.length);
        }
        return new int[] {version, body.getInt(), version >= 2 ? body.getInt() : 0};
    }
}
