package dev.ipc.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ipc.AuthenticationException;
import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Fuzz tests of everything that decodes bytes or strings from outside: the frame decoder, the hello and shared-secret
 * handshake parsers, the request and response decoder, {@code Endpoint.parse}, and a shared-memory peer's control words
 * and ring. Each may reject its input only with the exception its contract names; anything else is a finding.
 *
 * <p>In every build they run over the inputs committed under {@code src/test/resources} (regression mode).
 * {@code JAZZER_FUZZ=1 mvn -pl ipc-api test -Dtest=DecoderFuzzTest#frameDecoder} fuzzes one of them for five minutes
 * (see docs/RELIABILITY.md); a finding lands in that directory, to be committed with its fix.
 */
class DecoderFuzzTest {

    /** The limit the decoder is given; nothing longer may be allocated for a frame. */
    private static final int LIMIT = 4096;

    @FuzzTest(maxDuration = "5m")
    void frameDecoder(FuzzedDataProvider data) throws IOException {
        int chunk = data.consumeInt(1, 64);
        byte[] stream = data.consumeRemainingAsBytes();
        ByteArrayInputStream in = new ByteArrayInputStream(stream);
        // The source hands over at most `chunk` bytes a read, as a socket may.
        FrameReader reader = new FrameReader(
                ByteBuffer.allocate(256),
                destination -> {
                    int count = Math.min(chunk, destination.remaining());
                    byte[] bytes = new byte[count];
                    int read = in.read(bytes, 0, count);
                    if (read > 0) {
                        destination.put(bytes, 0, read);
                    }
                    return read == 0 ? -1 : read;
                },
                "fuzz",
                LIMIT);
        int consumed = 0;
        try {
            for (byte[] message = reader.receive(); message != null; message = reader.receive()) {
                assertTrue(message.length <= LIMIT, "a message over the limit came through: " + message.length);
                consumed += 4 + message.length;
            }
            assertEquals(stream.length, consumed, "a clean end comes only after whole frames");
        } catch (EOFException | ProtocolException expected) {
            // a cut or a bad length: the contract's two ways to refuse
        }
    }

    /**
     * A shared-memory peer that writes anything into its own file: positions, sleep marks, the end flag and the ring's
     * bytes. A read and a write on this side may go through, time out, or fail with a {@link ProtocolException} (or a
     * {@link SocketException} once closed for want of room); nothing else, never a count out of bounds, never a hang.
     */
    @FuzzTest(maxDuration = "5m")
    void sharedMemoryPeer(FuzzedDataProvider data) throws Exception {
        int capacity = 4096;
        long size = SharedRings.HEADER + capacity;
        Path directory = Files.createTempDirectory("ipc-fuzz");
        try (RandomAccessFile mineFile =
                        new RandomAccessFile(directory.resolve("mine").toFile(), "rw");
                RandomAccessFile peerFile =
                        new RandomAccessFile(directory.resolve("peer").toFile(), "rw");
                ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            mineFile.setLength(size);
            peerFile.setLength(size);
            Mapping pen = Mapping.map(peerFile.getChannel(), FileChannel.MapMode.READ_WRITE, size);
            ByteBuffer peer = pen.buffer().duplicate().order(ByteOrder.nativeOrder());
            for (int offset : new int[] {
                SharedRings.OFFSET_TAIL,
                SharedRings.OFFSET_HEAD,
                SharedRings.OFFSET_READER_ASLEEP,
                SharedRings.OFFSET_WRITER_ASLEEP
            }) {
                peer.putLong(offset, data.consumeLong());
            }
            peer.putLong(SharedRings.OFFSET_OUTPUT_ENDED, data.consumeBoolean() ? 1 : 0);
            int writeSize = data.consumeInt(0, 3 * capacity);
            peer.position(SharedRings.HEADER).put(data.consumeBytes(capacity));
            server.bind(UnixDomainSocketAddress.of(directory.resolve("s")));
            Closer closer = new Closer();
            try (SocketChannel mine = SocketChannel.open(UnixDomainSocketAddress.of(directory.resolve("s")));
                    SocketChannel theirs = server.accept()) {
                SharedRings rings = new SharedRings(
                        "fuzz",
                        mine,
                        Mapping.map(mineFile.getChannel(), FileChannel.MapMode.READ_WRITE, size),
                        capacity,
                        Mapping.map(peerFile.getChannel(), FileChannel.MapMode.READ_ONLY, size),
                        capacity,
                        Duration.ZERO,
                        true);
                try {
                    ByteBuffer sink = ByteBuffer.allocate(2 * capacity);
                    try {
                        int count = rings.read(sink, TimeUnit.MILLISECONDS.toNanos(1));
                        assertTrue(count >= -1 && count <= capacity && sink.position() == Math.max(count, 0));
                    } catch (ProtocolException | SocketTimeoutException expected) {
                        // positions out of bounds, or nothing to read
                    }
                    CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
                        try {
                            rings.write(new ByteBuffer[] {ByteBuffer.allocate(writeSize)});
                        } catch (ProtocolException | SocketException expected) {
                            // positions out of bounds, or closed below while it waited for room
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
                    try {
                        writing.get(50, TimeUnit.MILLISECONDS);
                    } catch (TimeoutException full) {
                        rings.close(closer); // the peer says its ring is full: the write waits, and close ends it
                        writing.get(10, TimeUnit.SECONDS);
                    }
                } finally {
                    rings.close(closer);
                    pen.unmap();
                }
            }
            closer.rethrow();
        } finally {
            try (var files = Files.list(directory)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    Files.delete(file);
                }
            }
            Files.delete(directory);
        }
    }

    @FuzzTest(maxDuration = "5m")
    void helloParser(byte[] input) throws IOException {
        try {
            int version = Codec.readHello(new ByteArrayInputStream(input)).version();
            assertTrue(version >= 0 && version <= 0xffff);
        } catch (EOFException | ProtocolException expected) {
            // refused with the contract's exceptions
        }
    }

    @FuzzTest(maxDuration = "5m")
    void secretHandshakeServerSide(byte[] input) throws IOException {
        try {
            SecretHandshake.verify(new BytesConnection(input), "0123456789abcdef-fuzz".getBytes(), "fuzz client");
        } catch (AuthenticationException | EOFException | ProtocolException expected) {
            // a wrong, missing, short, long or cut proof
        }
    }

    @FuzzTest(maxDuration = "5m")
    void secretHandshakeClientSide(byte[] input) throws IOException {
        try {
            SecretHandshake.prove(new BytesConnection(input), "0123456789abcdef-fuzz".getBytes(), "fuzz server");
        } catch (AuthenticationException | EOFException | ProtocolException expected) {
            // a wrong, missing, short, long or cut challenge
        }
    }

    /**
     * The codec of the runtime's frames, in every version: a frame decodes, or is refused with a
     * {@link ProtocolException}; one that decodes encodes again into bytes that decode to the same frame.
     */
    @FuzzTest(maxDuration = "5m")
    void frameCodec(byte[] bytes) throws ProtocolException {
        for (int version = Codec.OLDEST_VERSION; version <= Codec.VERSION; version++) {
            Frame frame;
            try {
                frame = Codec.decode(bytes, version);
            } catch (ProtocolException expected) {
                continue; // too short for its type, a type this version lacks, an unknown type
            }
            byte[] again = Codec.encode(frame, version);
            assertArrayEquals(again, Codec.encode(Codec.decode(again, version), version), "version " + version);
        }
    }

    @FuzzTest(maxDuration = "5m")
    void endpointParser(String text) {
        if (text == null) {
            return; // null is misuse, refused with a NullPointerException by contract
        }
        Endpoint endpoint;
        try {
            endpoint = Endpoint.parse(text);
        } catch (IllegalArgumentException expected) {
            return;
        }
        assertEquals(endpoint, Endpoint.parse(endpoint.toString()), "an endpoint reads back from its string");
        try {
            ConnectionOptions.defaults().toBuilder().query(endpoint).build();
        } catch (IllegalArgumentException expected) {
            // an unknown or invalid option, named in the message
        }
    }

    /** A connection whose peer sent {@code input} and reads nothing: for the handshake parsers alone. */
    private static final class BytesConnection implements Connection {
        private final InputStream in;
        private final OutputStream out = new ByteArrayOutputStream();

        BytesConnection(byte[] input) {
            this.in = new ByteArrayInputStream(input);
        }

        @Override
        public InputStream input() {
            return in;
        }

        @Override
        public OutputStream output() {
            return out;
        }

        @Override
        public void send(byte[] message) {}

        @Override
        public void send(byte[] message, int offset, int length) {}

        @Override
        public void send(ByteBuffer message) {}

        @Override
        public void write(byte[] message) {}

        @Override
        public void write(ByteBuffer message) {}

        @Override
        public void flush() {}

        @Override
        public byte[] receive() {
            return null;
        }

        @Override
        public int receive(ByteBuffer destination) {
            return -1;
        }

        @Override
        public void sendWithDescriptors(byte[] message, FileDescriptor... descriptors) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<FileDescriptor> takeReceivedDescriptors() {
            return List.of();
        }

        @Override
        public boolean canPassDescriptors() {
            return false;
        }

        @Override
        public void shutdownOutput() {}

        @Override
        public void shutdownInput() {}

        @Override
        public PeerCredentials peer() {
            return PeerCredentials.unknown();
        }

        @Override
        public Endpoint localEndpoint() {
            return Endpoint.unixAbstract("fuzz");
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }
}
