package dev.ipc.internal;

import dev.ipc.ConnectionOptions;
import dev.ipc.ConnectionOptions.SharedMemory;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a Unix-socket connection's data into shared memory, as {@code docs/PROTOCOL.md} ("Shared memory") has it: the
 * client's 16-byte request with its memory file attached, the server's 16-byte answer with its own (or a refusal that
 * says why), then the rings of {@link SharedRings}.
 *
 * <p>Each side's memory file is created 0600 with a random name, filled (so a full {@code /dev/shm} fails here with an
 * exception, not later with a fault), opened a second time read-only for the peer, and deleted at once: from then on it
 * is reachable only through the two processes' mappings and the descriptor in flight, and nothing is left behind by a
 * crash.
 */
public final class SharedMemoryHandshake {

    /**
     * Throws the server's refusal if its answer is an ERROR frame rather than the handshake's (a listener that refuses
     * the peer, by its access policy say, says why before the handshake is answered): the caller learns why, not that
     * the server "did not answer".
     */
    private static void refusedWithError(Wire wire, ByteBuffer answer) throws IOException {
        int length = answer.getInt(0);
        if (answer.get(4) != Codec.ERROR || length < 7 || length > 7 + Codec.MAX_MESSAGE) {
            return;
        }
        ByteBuffer whole =
                ByteBuffer.allocate(4 + length).put(answer.duplicate().limit(Math.min(answer.limit(), 4 + length)));
        if (whole.hasRemaining()) {
            wire.readFully(whole);
        }
        byte[] frame = Arrays.copyOfRange(whole.array(), 4, whole.capacity());
        if (Codec.decode(frame, Codec.VERSION) instanceof Frame.Error refusal) {
            throw refusal.toException();
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(SharedMemoryHandshake.class);

    /** The first four bytes of the request and of the answer: a frame length with its top bit set, never valid. */
    static final byte[] MAGIC = {(byte) 0xFF, 'S', 'H', 'M'};

    static final int VERSION = 1;
    static final int SIZE = 16;
    static final int GRANTED = 0;
    static final int DECLINED = 1;
    static final int MIN_RING = 4096;
    static final int MAX_RING = 1 << 30;
    private static final int MAX_REASON = 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The raw socket under a connection, before any framing: what the handshake reads and writes. */
    interface Wire {
        /** Fills {@code destination}, honouring the connection's read timeout. */
        void readFully(ByteBuffer destination) throws IOException;

        /** Writes every byte of {@code bytes}, with {@code descriptor} attached if not null. */
        void write(ByteBuffer bytes, FileDescriptor descriptor) throws IOException;

        /** The descriptors that arrived with what was read so far; the caller owns them. */
        List<FileDescriptor> takeDescriptors();

        /** Why descriptors can't be passed here, or null if they can. */
        String whyNoDescriptors();

        /** The socket, for the wake-ups once the rings carry the data. */
        SocketChannel socket();
    }

    private SharedMemoryHandshake() {}

    /** Whether the bytes of {@code prefix} so far (up to its position) could begin a request. */
    static boolean couldBeRequest(ByteBuffer prefix) {
        for (int i = 0; i < prefix.position(); i++) {
            if (prefix.get(i) != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code first}, flipped, holds exactly the four bytes of {@link #MAGIC}. */
    static boolean isRequest(ByteBuffer first) {
        return first.remaining() == MAGIC.length
                && couldBeRequest(first.duplicate().position(MAGIC.length));
    }

    /**
     * The client's side: asks the server at the other end of {@code wire}, right after connecting; the rings if it
     * granted, else null after logging why (or an exception if {@code sharedMemory=require}).
     */
    static SharedRings request(Wire wire, ConnectionOptions options, String label) throws IOException {
        boolean required = options.get(ConnectionOptions.SHARED_MEMORY) == SharedMemory.REQUIRE;
        String cannot = wire.whyNoDescriptors();
        if (cannot != null) {
            return refused(required, label, "this side cannot pass the memory's descriptor: " + cannot);
        }
        int capacity = options.get(ConnectionOptions.RING_SIZE);
        OwnFile own;
        try {
            own = OwnFile.create(capacity);
        } catch (IOException e) {
            return refused(required, label, "this side could not create its memory file: " + e.getMessage());
        }
        try {
            ByteBuffer request = ByteBuffer.allocate(SIZE);
            request.put(MAGIC)
                    .put((byte) VERSION)
                    .put((byte) 0)
                    .putShort((short) 0)
                    .putInt(capacity)
                    .putInt(0);
            wire.write(request.flip(), own.readOnly.getFD());
            own.closeReadOnly();
            ByteBuffer answer = ByteBuffer.allocate(SIZE);
            wire.readFully(answer);
            answer.flip();
            refusedWithError(wire, answer);
            for (byte expected : MAGIC) {
                if (answer.get() != expected) {
                    throw new ProtocolException("the server of " + label + " did not answer the shared-memory"
                            + " request (sharedMemory="
                            + options.get(ConnectionOptions.SHARED_MEMORY).name()
                            + "): it is not an ipc server, or it wrote before reading");
                }
            }
            int version = answer.get() & 0xFF;
            int status = answer.get() & 0xFF;
            int reasonLength = answer.getShort() & 0xFFFF;
            int peerCapacity = answer.getInt();
            if (version != VERSION) {
                throw new ProtocolException("the server of " + label + " answered the shared-memory request with"
                        + " version " + version + ", not " + VERSION);
            }
            if (status == DECLINED) {
                if (reasonLength > MAX_REASON) {
                    throw new ProtocolException("the server of " + label + " declined shared memory with a reason of "
                            + reasonLength + " bytes, over " + MAX_REASON);
                }
                ByteBuffer reason = ByteBuffer.allocate(reasonLength);
                wire.readFully(reason);
                closeAll(wire.takeDescriptors());
                own.close();
                return refused(
                        required, label, "the server declined: " + new String(reason.array(), StandardCharsets.UTF_8));
            }
            if (status != GRANTED) {
                throw new ProtocolException(
                        "the server of " + label + " answered the shared-memory request with status " + status);
            }
            Mapping theirs = mapPeer(wire.takeDescriptors(), peerCapacity, "the server of " + label);
            try {
                return rings(wire, options, label, own.mapping, capacity, theirs, peerCapacity);
            } catch (IOException | RuntimeException e) {
                theirs.unmap();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            own.close();
            throw e;
        }
    }

    private static SharedRings refused(boolean required, String label, String why) throws IOException {
        if (required) {
            throw new IOException("no shared memory on " + label + " (sharedMemory=require): " + why);
        }
        LOG.info("{}: using the socket, not shared memory (sharedMemory=on): {}", label, why);
        return null;
    }

    /**
     * The server's side, once the four bytes of {@link #MAGIC} have been read: reads the rest of the request, grants it
     * or declines it with the reason, and returns the rings if granted (null if declined: the socket carries on).
     */
    static SharedRings answer(Wire wire, ConnectionOptions options, String label) throws IOException {
        ByteBuffer request = ByteBuffer.allocate(SIZE - MAGIC.length);
        wire.readFully(request);
        request.flip();
        List<FileDescriptor> descriptors = wire.takeDescriptors();
        int version = request.get() & 0xFF;
        request.get();
        request.getShort();
        int peerCapacity = request.getInt();
        String why = null;
        if (version != VERSION) {
            why = "version " + version + " was asked for; this server speaks version " + VERSION;
        } else if (options.get(ConnectionOptions.SHARED_MEMORY) == SharedMemory.OFF) {
            why = "this listener does not offer shared memory (sharedMemory=off)";
        } else if (wire.whyNoDescriptors() != null) {
            why = "this listener cannot pass descriptors: " + wire.whyNoDescriptors();
        } else if (descriptors.size() != 1) {
            why = descriptors.size() + " descriptors came with the request, not the one memory file";
        } else if (Integer.bitCount(peerCapacity) != 1 || peerCapacity < MIN_RING || peerCapacity > MAX_RING) {
            why = "a ring of " + peerCapacity + " bytes was offered: it must be a power of two from " + MIN_RING
                    + " to " + MAX_RING;
        }
        if (why != null) {
            closeAll(descriptors);
            decline(wire, why, label);
            return null;
        }
        Mapping theirs;
        try {
            theirs = mapPeer(descriptors, peerCapacity, "the client of " + label);
        } catch (ProtocolException e) {
            decline(wire, e.getMessage(), label);
            return null;
        }
        int capacity = options.get(ConnectionOptions.RING_SIZE);
        OwnFile own;
        try {
            own = OwnFile.create(capacity);
        } catch (IOException e) {
            theirs.unmap();
            LOG.warn("{}: could not create a shared-memory file, serving the client over the socket: {}", label, e);
            decline(wire, "the server could not create its memory file: " + e.getMessage(), label);
            return null;
        }
        try {
            ByteBuffer answer = ByteBuffer.allocate(SIZE);
            answer.put(MAGIC)
                    .put((byte) VERSION)
                    .put((byte) GRANTED)
                    .putShort((short) 0)
                    .putInt(capacity)
                    .putInt(0);
            wire.write(answer.flip(), own.readOnly.getFD());
            own.closeReadOnly();
            return rings(wire, options, label, own.mapping, capacity, theirs, peerCapacity);
        } catch (IOException | RuntimeException e) {
            own.close();
            theirs.unmap();
            throw e;
        }
    }

    /** The rings over both memory files, once both sides have them; the socket now carries only wake-ups. */
    private static SharedRings rings(
            Wire wire,
            ConnectionOptions options,
            String label,
            Mapping mine,
            int capacity,
            Mapping theirs,
            int peerCapacity)
            throws IOException {
        SharedRings rings = new SharedRings(
                label,
                wire.socket(),
                mine,
                capacity,
                theirs,
                peerCapacity,
                options.get(ConnectionOptions.SPIN),
                !options.get(ConnectionOptions.READ_TIMEOUT).isZero());
        LOG.debug("{}: data in shared memory, rings of {} and {} bytes", label, capacity, peerCapacity);
        return rings;
    }

    private static void decline(Wire wire, String why, String label) throws IOException {
        LOG.info("{}: declined the client's request for shared memory: {}", label, why);
        byte[] reason = why.getBytes(StandardCharsets.UTF_8);
        int length = Math.min(reason.length, MAX_REASON);
        ByteBuffer answer = ByteBuffer.allocate(SIZE + length);
        answer.put(MAGIC)
                .put((byte) VERSION)
                .put((byte) DECLINED)
                .putShort((short) length)
                .putInt(0)
                .putInt(0)
                .put(reason, 0, length);
        wire.write(answer.flip(), null);
    }

    /** Maps the peer's memory file read-only, after checking that it is as large as its ring says; closes them. */
    private static Mapping mapPeer(List<FileDescriptor> descriptors, int capacity, String who) throws IOException {
        if (descriptors.size() != 1) {
            closeAll(descriptors);
            throw new ProtocolException(who + " sent " + descriptors.size() + " descriptors, not its one memory file");
        }
        if (Integer.bitCount(capacity) != 1 || capacity < MIN_RING || capacity > MAX_RING) {
            closeAll(descriptors);
            throw new ProtocolException(who + " offered a ring of " + capacity + " bytes: it must be a power of two"
                    + " from " + MIN_RING + " to " + MAX_RING);
        }
        try (FileInputStream file = new FileInputStream(descriptors.get(0));
                FileChannel channel = file.getChannel()) {
            long size;
            try {
                size = channel.size();
            } catch (IOException e) {
                throw new ProtocolException(who + " sent a descriptor that is not a memory file: " + e.getMessage());
            }
            if (size < SharedRings.HEADER + (long) capacity) {
                throw new ProtocolException(who + " sent a memory file of " + size + " bytes, too small for its ring"
                        + " of " + capacity + " bytes after the " + SharedRings.HEADER + "-byte header");
            }
            Mapping mapping;
            try {
                mapping = Mapping.map(channel, MapMode.READ_ONLY, SharedRings.HEADER + (long) capacity);
            } catch (IOException e) {
                // A directory, a device: large enough, and yet no memory to map. Said, as any other decline.
                throw new ProtocolException(who + " sent a descriptor that can't be mapped as a memory file: " + e);
            }
            ByteBuffer header = mapping.buffer().duplicate().order(ByteOrder.nativeOrder());
            if (header.getInt(SharedRings.OFFSET_LAYOUT) != SharedRings.LAYOUT
                    || header.getInt(SharedRings.OFFSET_CAPACITY) != capacity) {
                mapping.unmap();
                throw new ProtocolException(who + " sent a memory file whose header is not layout " + SharedRings.LAYOUT
                        + " with a ring of " + capacity + " bytes");
            }
            return mapping;
        }
    }

    private static void closeAll(List<FileDescriptor> descriptors) {
        for (FileDescriptor descriptor : descriptors) {
            Closer.closeQuietly(new FileInputStream(descriptor), null);
        }
    }

    /** This side's memory file: mapped read-write, open read-only for the peer until sent, and already deleted. */
    private static final class OwnFile {
        final Mapping mapping;
        FileInputStream readOnly;

        private OwnFile(Mapping mapping, FileInputStream readOnly) {
            this.mapping = mapping;
            this.readOnly = readOnly;
        }

        static OwnFile create(int capacity) throws IOException {
            Path directory = directory();
            Path path = directory.resolve("ipc-" + ProcessHandle.current().pid() + "-"
                    + HexFormat.of().formatHex(randomBytes()));
            Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
                long size = SharedRings.HEADER + (long) capacity;
                fill(file.getChannel(), size);
                Mapping mapping = Mapping.map(file.getChannel(), MapMode.READ_WRITE, size);
                ByteBuffer header = mapping.buffer().duplicate().order(ByteOrder.nativeOrder());
                header.putInt(SharedRings.OFFSET_LAYOUT, SharedRings.LAYOUT);
                header.putInt(SharedRings.OFFSET_CAPACITY, capacity);
                try {
                    return new OwnFile(mapping, new FileInputStream(path.toFile()));
                } catch (IOException | RuntimeException e) {
                    mapping.unmap();
                    throw e;
                }
            } finally {
                Files.deleteIfExists(path);
            }
        }

        private static byte[] randomBytes() {
            byte[] bytes = new byte[12];
            RANDOM.nextBytes(bytes);
            return bytes;
        }

        /** Writes zeros over the whole file, so that the memory is there before it is mapped. */
        private static void fill(FileChannel channel, long size) throws IOException {
            ByteBuffer zeros = ByteBuffer.allocateDirect(64 * 1024);
            for (long at = 0; at < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
                at += channel.write(zeros, at);
            }
        }

        /** Where memory files are made: {@code /dev/shm}, memory on Linux, or else the temporary directory. */
        private static Path directory() {
            Path shm = Path.of("/dev/shm");
            return Files.isDirectory(shm) && Files.isWritable(shm)
                    ? shm
                    : Path.of(System.getProperty("java.io.tmpdir"));
        }

        void closeReadOnly() {
            if (readOnly != null) {
                Closer.closeQuietly(readOnly, null);
                readOnly = null;
            }
        }

        void close() {
            closeReadOnly();
            mapping.unmap();
        }
    }
}
