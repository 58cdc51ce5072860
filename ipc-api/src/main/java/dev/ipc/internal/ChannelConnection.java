package dev.ipc.internal;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.IpcOptions;
import dev.ipc.PeerCredentials;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Connection} over a connected {@link SocketChannel}: the one implementation that the JDK Unix, junixsocket
 * and TCP transports share.
 *
 * <p>Hot path: a message that fits the send buffer goes out in one {@code write} (length and payload copied together);
 * a receive reads as much as has arrived into a buffer, so a small message costs one {@code read}. Without a read
 * timeout the channel stays in blocking mode; with one, it is non-blocking and waits in a selector only when no data
 * has arrived yet.
 */
public final class ChannelConnection extends FramedConnection {

    private static final Logger LOG = LoggerFactory.getLogger(ChannelConnection.class);

    /** Size of each direct buffer; messages up to this size less 4 go out in one copy and one write. */
    static final int BUFFER_SIZE = 32 * 1024;
    /** Largest slice of a heap array handed to the channel at once, bounding the JDK's temporary direct buffers. */
    private static final int CHUNK = 1024 * 1024;

    private final SocketChannel channel;
    private final Endpoint localEndpoint;
    private final PeerCredentials peer;
    private final int maxFrameSize;
    private final long readTimeoutNanos;
    private final boolean timed;
    private final boolean emptyReadWhenReadyIsEnd;
    private final boolean virtualThreads;
    private final ChannelTraits.DescriptorPassing descriptorPassing;
    private final String whyNoDescriptors;

    private final ReadinessWaiter readWaiter;
    private final ReadinessWaiter writeWaiter;

    // Guarded by readLock.
    private final List<FileDescriptor> receivedDescriptors = new ArrayList<>();

    // Frames queued by senders that found another thread writing (see send); guarded by queueLock,
    // allocated on first contention. 'draining' is the buffer being written while 'queue' fills.
    private static final int QUEUE_CAPACITY = 64 * 1024;
    private final ReentrantLock queueLock = new ReentrantLock();
    private ByteBuffer queue;
    private ByteBuffer draining;
    /** Whether the queue holds frames; written under queueLock, read without it on the hot path. */
    private volatile boolean queued;

    // Guarded by writeLock.
    private final ByteBuffer writeBuffer = ByteBuffer.allocateDirect(BUFFER_SIZE);
    private final ByteBuffer header = ByteBuffer.allocateDirect(4);
    private final ByteBuffer[] frame = new ByteBuffer[2];
    private final ByteBuffer oneByte = ByteBuffer.allocate(1);

    private final OutputStream output = new ConnectionOutput();

    /**
     * Wraps a connected channel, which this connection then owns.
     *
     * @param label how the connection is named in messages and logs, such as {@code unix:/run/a.sock (unix/jdk)}
     * @param traits what the backend's channels do differently
     */
    public ChannelConnection(
            SocketChannel channel,
            Endpoint localEndpoint,
            PeerCredentials peer,
            IpcOptions options,
            String label,
            ChannelTraits traits)
            throws IOException {
        super(label, ByteBuffer.allocateDirect(BUFFER_SIZE), options.maxFrameSize());
        this.emptyReadWhenReadyIsEnd = traits.emptyReadWhenReadyIsEnd;
        this.virtualThreads = traits.virtualThreads;
        this.descriptorPassing = traits.descriptorPassing;
        this.whyNoDescriptors = traits.whyNoDescriptors;
        this.channel = Objects.requireNonNull(channel, "channel");
        this.localEndpoint = Objects.requireNonNull(localEndpoint, "localEndpoint");
        this.peer = Objects.requireNonNull(peer, "peer");
        this.maxFrameSize = options.maxFrameSize();
        this.readTimeoutNanos = options.readTimeout().toNanos();
        this.timed = readTimeoutNanos > 0;
        channel.configureBlocking(!timed);
        this.readWaiter = new ReadinessWaiter(channel, SelectionKey.OP_READ);
        this.writeWaiter = new ReadinessWaiter(channel, SelectionKey.OP_WRITE);
        LOG.debug("connection open: {}, peer {}", label, peer);
    }

    @Override
    public void send(byte[] message) throws IOException {
        send(message, 0, message.length);
    }

    @Override
    public void send(byte[] message, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, message.length);
        send(ByteBuffer.wrap(message, offset, length));
    }

    @Override
    public void send(ByteBuffer message) throws IOException {
        int length = message.remaining();
        checkSendable(length);
        // A lone sender writes at once. A sender that finds another thread writing queues its frame, and
        // that thread writes everything queued in one go when its own write returns: many messages per
        // system call exactly when senders outpace the socket, and no added latency when they don't.
        if (!writeLock.tryLock()) {
            if (enqueue(message, length)) {
                drainIfIdle();
                return;
            }
            writeLock.lock();
        }
        try {
            ensureOpen();
            writeQueued();
            writeFrame(message, length);
        } catch (IOException e) {
            // Part of a frame may be out: the stream can't be trusted any more.
            throw fail(e);
        } finally {
            writeLock.unlock();
        }
        drainIfIdle();
    }

    /** Copies a frame into the queue if it fits; false if it doesn't (the caller then writes it itself). */
    private boolean enqueue(ByteBuffer message, int length) throws IOException {
        if (length + 4 > QUEUE_CAPACITY) {
            return false;
        }
        queueLock.lock();
        try {
            ensureOpen();
            if (queue == null) {
                queue = ByteBuffer.allocateDirect(QUEUE_CAPACITY);
                draining = ByteBuffer.allocateDirect(QUEUE_CAPACITY);
            }
            if (queue.remaining() < length + 4) {
                return false;
            }
            queue.putInt(length).put(message);
            queued = true;
            return true;
        } finally {
            queueLock.unlock();
        }
    }

    private void checkSendable(int length) {
        if (length > maxFrameSize) {
            throw new IllegalArgumentException("message of " + length + " bytes is over maxFrameSize " + maxFrameSize
                    + " on " + label + "; nothing was sent");
        }
    }

    /** Writes what other senders queued; the caller holds the write lock. A no-op without a lock when none did. */
    private void writeQueued() throws IOException {
        while (queued) {
            ByteBuffer batch;
            queueLock.lock();
            try {
                batch = queue;
                queue = draining;
                draining = batch;
                queued = false;
            } finally {
                queueLock.unlock();
            }
            batch.flip();
            writeFully(batch);
            batch.clear();
        }
    }

    /**
     * After the write lock is released: if frames were queued meanwhile by senders that found it taken, write them,
     * unless another thread holds the lock again (it will).
     */
    private void drainIfIdle() throws IOException {
        while (queued && writeLock.tryLock()) {
            try {
                ensureOpen();
                writeQueued();
            } catch (IOException e) {
                throw fail(e);
            } finally {
                writeLock.unlock();
            }
        }
    }

    @Override
    public void sendWithDescriptors(byte[] message, FileDescriptor... descriptors) throws IOException {
        if (descriptorPassing == null) {
            throw new UnsupportedOperationException(
                    "cannot pass file descriptors on " + label + ": " + whyNoDescriptors);
        }
        checkSendable(message.length);
        writeLock.lock();
        try {
            ensureOpen();
            writeQueued();
            descriptorPassing.attach(descriptors.clone());
            writeFrame(ByteBuffer.wrap(message), message.length);
        } catch (IOException e) {
            throw fail(e);
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public List<FileDescriptor> takeReceivedDescriptors() {
        readLock.lock();
        try {
            List<FileDescriptor> taken = List.copyOf(receivedDescriptors);
            receivedDescriptors.clear();
            return taken;
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public boolean canPassDescriptors() {
        return descriptorPassing != null;
    }

    private void writeFrame(ByteBuffer payload, int length) throws IOException {
        if (length <= writeBuffer.capacity() - 4) {
            writeBuffer.clear();
            writeBuffer.putInt(length).put(payload).flip();
            writeFully(writeBuffer);
            return;
        }
        header.clear();
        header.putInt(length).flip();
        int limit = payload.limit();
        try {
            if (!payload.isDirect()) {
                payload.limit(payload.position() + Math.min(CHUNK, length));
            }
            frame[0] = header;
            frame[1] = payload;
            // Hand over only buffers with bytes left: junixsocket's gathering write writes just the
            // first buffer it is given, even an empty one.
            writeStarted();
            try {
                for (int first = 0; first < frame.length; ) {
                    long written = channel.write(frame, first, frame.length - first);
                    while (first < frame.length && !frame[first].hasRemaining()) {
                        first++;
                    }
                    if (written == 0 && first < frame.length) {
                        writeWaiter.await(0);
                    }
                }
            } finally {
                writeDone();
            }
            while (payload.limit() < limit) {
                payload.limit(payload.position() + Math.min(CHUNK, limit - payload.position()));
                writeFully(payload);
            }
        } finally {
            frame[1] = null;
            payload.limit(limit);
        }
    }

    private void writeFully(ByteBuffer source) throws IOException {
        writeStarted();
        try {
            while (source.hasRemaining()) {
                if (channel.write(source) == 0) {
                    writeWaiter.await(0);
                }
            }
        } finally {
            writeDone();
        }
    }

    /** Whether a connection may block in a virtual thread; false for junixsocket's and unknown kinds. */
    public static boolean suitsVirtualThreads(Connection connection) {
        return connection instanceof ConnectionState && ((ConnectionState) connection).suitsVirtualThreads();
    }

    @Override
    public boolean suitsVirtualThreads() {
        return virtualThreads;
    }

    /** Who is on the other side, for messages: the address and port over TCP, else the peer's credentials. */
    public static String describePeer(Connection connection) {
        if (connection instanceof ChannelConnection) {
            try {
                SocketAddress remote = ((ChannelConnection) connection).channel.getRemoteAddress();
                if (remote instanceof InetSocketAddress) {
                    InetSocketAddress inet = (InetSocketAddress) remote;
                    return inet.getAddress().getHostAddress() + ":" + inet.getPort();
                }
            } catch (IOException e) {
                // closed already: fall back to the credentials
            }
        }
        return connection.peer().toString();
    }

    /** A connection's {@link ConnectionState#writeCount()}; 0 (no write in progress) for other kinds. */
    public static long writeCount(Connection connection) {
        return connection instanceof ConnectionState ? ((ConnectionState) connection).writeCount() : 0;
    }

    /**
     * When the first byte of a frame that has not yet arrived whole came in ({@link System#nanoTime()}), or 0 if none
     * is half-received; for watchdogs that cut off a peer that stops mid-frame. Zero for connections of other kinds.
     */
    public static long partialFrameSince(Connection connection) {
        return connection instanceof ConnectionState ? ((ConnectionState) connection).partialFrameSince() : 0;
    }

    /** One read that waits at most the read timeout for data; the count, or -1 at end of stream. */
    @Override
    protected int readInto(ByteBuffer destination) throws IOException {
        int count = timed ? timedRead(destination) : checkNotClosed(channel.read(destination));
        if (descriptorPassing != null && count > 0) {
            FileDescriptor[] arrived = descriptorPassing.takeReceived();
            if (arrived != null) {
                receivedDescriptors.addAll(Arrays.asList(arrived));
            }
        }
        return count;
    }

    private int timedRead(ByteBuffer destination) throws IOException {
        long deadline = System.nanoTime() + readTimeoutNanos;
        boolean ready = false;
        while (true) {
            int count = channel.read(destination);
            if (count != 0) {
                return checkNotClosed(count);
            }
            if (ready && emptyReadWhenReadyIsEnd && destination.hasRemaining()) {
                return checkNotClosed(-1);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new SocketTimeoutException(
                        "no data on " + label + " within readTimeout " + Duration.ofNanos(readTimeoutNanos));
            }
            ready = readWaiter.await(left);
        }
    }

    /** Passes a read's count on, unless this side was closed meanwhile (some channels then read an end of stream). */
    private int checkNotClosed(int count) throws IOException {
        if (count < 0 && closed.get()) {
            throw new AsynchronousCloseException();
        }
        return count;
    }

    @Override
    public OutputStream output() {
        return output;
    }

    @Override
    public void shutdownOutput() throws IOException {
        writeLock.lock();
        try {
            ensureOpen();
            writeQueued();
            channel.shutdownOutput();
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void shutdownInput() throws IOException {
        ensureOpen();
        channel.shutdownInput();
    }

    @Override
    public PeerCredentials peer() {
        return peer;
    }

    @Override
    public Endpoint localEndpoint() {
        return localEndpoint;
    }

    @Override
    public boolean isOpen() {
        return !closed.get() && channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.debug("connection closed: {}", label);
        Closer closer = new Closer();
        if (queued && writeLock.tryLock()) {
            try {
                closer.run(this::writeQueued); // frames already accepted by send() still go out
            } finally {
                writeLock.unlock();
            }
        }
        if (readLock.tryLock()) {
            try {
                for (FileDescriptor untaken : receivedDescriptors) {
                    closer.close(new FileInputStream(untaken));
                }
                receivedDescriptors.clear();
            } finally {
                readLock.unlock();
            }
        }
        // Selectors first: a channel still registered with one may put off closing its descriptor, and
        // the peer would not see the end of stream.
        closer.close(readWaiter).close(writeWaiter).close(channel).rethrow();
    }

    private final class ConnectionOutput extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            writeLock.lock();
            try {
                ensureOpen();
                writeQueued();
                oneByte.clear();
                oneByte.put((byte) b).flip();
                writeFully(oneByte);
            } finally {
                writeLock.unlock();
            }
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            Objects.checkFromIndexSize(offset, length, bytes.length);
            writeLock.lock();
            try {
                ensureOpen();
                writeQueued();
                for (int done = 0; done < length; ) {
                    int count = Math.min(CHUNK, length - done);
                    writeFully(ByteBuffer.wrap(bytes, offset + done, count));
                    done += count;
                }
            } finally {
                writeLock.unlock();
            }
        }

        @Override
        public void close() throws IOException {
            if (isOpen()) {
                shutdownOutput();
            }
        }
    }
}
