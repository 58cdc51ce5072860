package dev.ipc.internal;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.PeerCredentials;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
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
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Connection} over a connected {@link SocketChannel}: the one implementation that the JDK Unix, junixsocket
 * and TCP transports share. What it adds to the {@link FramedConnection} skeleton is the channel: reads and writes, the
 * read timeout, and what a backend's channels do differently ({@link ChannelTraits}).
 *
 * <p>Hot path: a receive reads as much as has arrived into a buffer, so a small message costs one {@code read}. Without
 * a read timeout the channel stays in blocking mode; with one, it is non-blocking and waits in a selector only when no
 * data has arrived yet.
 */
public final class ChannelConnection extends FramedConnection {

    private static final Logger LOG = LoggerFactory.getLogger(ChannelConnection.class);
    private static final long CLOSE_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /** Room for the memory file of a shared-memory handshake, and a few more to decline with the reason. */
    private static final int HANDSHAKE_DESCRIPTORS = 8;

    private final SocketChannel channel;
    private final Endpoint localEndpoint;
    private final PeerCredentials peer;
    private final long readTimeoutNanos;
    private final boolean timed;
    private final ChannelTraits traits;

    private final ReadinessWaiter readWaiter;
    private final ReadinessWaiter writeWaiter;

    /** How many descriptors this connection holds untaken at most, outside a handshake: maxReceivedDescriptors. */
    private final int maxDescriptors;

    // Guarded by readLock.
    private final List<FileDescriptor> receivedDescriptors = new ArrayList<>();
    private int descriptorAllowance; // maxDescriptors, or HANDSHAKE_DESCRIPTORS in a shared-memory handshake
    /** A server's options for answering a request for shared memory, until the first bytes are in (readLock). */
    private ConnectionOptions offer;
    /** The first bytes a server reads, until it knows whether they ask for shared memory (readLock). */
    private ByteBuffer prefix;
    /** First bytes that turned out not to be a request, for the reader (readLock). */
    private ByteBuffer leftover;
    /**
     * Whether the first bytes ended in the end of the stream (readLock): it is not read a second time, as junixsocket's
     * selector reports a closed peer only once.
     */
    private boolean endedFirst;
    /** The rings, once the data path is in shared memory; null while the socket carries it. */
    private volatile SharedRings rings;

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
            ConnectionOptions options,
            String label,
            ChannelTraits traits)
            throws IOException {
        super(label, true, options);
        this.traits = Objects.requireNonNull(traits, "traits");
        this.channel = Objects.requireNonNull(channel, "channel");
        this.localEndpoint = Objects.requireNonNull(localEndpoint, "localEndpoint");
        this.peer = Objects.requireNonNull(peer, "peer");
        this.readTimeoutNanos = options.get(ConnectionOptions.READ_TIMEOUT).toNanos();
        this.maxDescriptors = options.get(ConnectionOptions.MAX_RECEIVED_DESCRIPTORS);
        allowDescriptors(maxDescriptors);
        this.timed = readTimeoutNanos > 0;
        channel.configureBlocking(!timed);
        this.readWaiter = new ReadinessWaiter(channel, SelectionKey.OP_READ);
        this.writeWaiter = new ReadinessWaiter(channel, SelectionKey.OP_WRITE);
        LOG.debug("connection open: {}, peer {}", label, peer);
    }

    /**
     * On an accepted connection: answers a client whose first bytes ask to move the data into shared memory
     * ({@code docs/PROTOCOL.md}), granting or declining as {@code options} say. The check runs in the first read, so a
     * connection whose client does not ask costs nothing more, and one that asks is moved before its first byte of data
     * is read.
     */
    public void answerSharedMemoryRequests(ConnectionOptions options) throws IOException {
        readLock.lock();
        try {
            offer = Objects.requireNonNull(options, "options");
            prefix = ByteBuffer.allocate(SharedMemoryHandshake.MAGIC.length);
            if (options.get(ConnectionOptions.SHARED_MEMORY) != ConnectionOptions.SharedMemory.OFF) {
                allowDescriptors(Math.max(maxDescriptors, HANDSHAKE_DESCRIPTORS)); // the request's memory file
            }
        } finally {
            readLock.unlock();
        }
    }

    /**
     * Makes room for {@code count} descriptors from the peer, with one read and held untaken; the caller holds the read
     * lock, or is the constructor.
     */
    private void allowDescriptors(int count) throws IOException {
        if (traits.descriptorPassing != null && count != descriptorAllowance) {
            traits.descriptorPassing.room(count);
        }
        descriptorAllowance = count;
    }

    /**
     * On a client, right after connecting: asks the server to move the data into shared memory. Where it is declined or
     * can't be asked for, the socket carries on and the reason is logged; with {@code sharedMemory=require}, that fails
     * instead. Bounded by the shorter of {@link ConnectionOptions#CONNECT_TIMEOUT} and
     * {@link ConnectionOptions#HANDSHAKE_TIMEOUT}.
     *
     * @throws IOException if the server did not answer, answered out of protocol, or (when required) declined; the
     *     connection is then closed
     */
    public void requestSharedMemory(ConnectionOptions options) throws IOException {
        // Part of connecting, as a TLS handshake is: bounded by the connect timeout too.
        Duration connect = options.get(ConnectionOptions.CONNECT_TIMEOUT);
        Duration handshake = options.get(ConnectionOptions.HANDSHAKE_TIMEOUT);
        boolean byConnect = !connect.isZero() && (handshake.isZero() || connect.compareTo(handshake) < 0);
        Duration limit = byConnect ? connect : handshake;
        try {
            readLock.lock();
            try {
                Deadline.within(
                        limit,
                        this,
                        "the server of " + label + " did not answer the shared-memory request within "
                                + (byConnect ? "connectTimeout " : "handshakeTimeout ") + limit,
                        () -> {
                            allowDescriptors(Math.max(maxDescriptors, HANDSHAKE_DESCRIPTORS)); // the server's file
                            try {
                                rings = SharedMemoryHandshake.request(new Wire(), options, label);
                            } finally {
                                allowDescriptors(maxDescriptors);
                            }
                        });
            } finally {
                readLock.unlock();
            }
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(this, e);
            throw e;
        }
    }

    @Override
    public boolean isSharedMemory() {
        return rings != null;
    }

    /**
     * Writes on the calling thread, or, where this backend's blocking calls misbehave in a virtual thread, on a
     * platform thread while the caller waits: the one place every write reaches the socket (a send, a flush, a full
     * queue, a close's last frames, raw output), so a {@code write} that only queues never moves.
     */
    @Override
    protected void writeFully(ByteBuffer[] sources) throws IOException {
        if (!traits.virtualThreads && Threads.isVirtual(Thread.currentThread())) {
            Threads.onPlatformThread(label, () -> writeAll(sources));
            return;
        }
        writeAll(sources);
    }

    private void writeAll(ByteBuffer[] sources) throws IOException {
        SharedRings shared = rings;
        if (shared != null) {
            try {
                shared.write(sources);
            } catch (InternalError e) {
                throw shared.unreadable(e);
            }
            return;
        }
        // Hand over only buffers with bytes left: junixsocket's gathering write writes just the first buffer it is
        // given, even an empty one.
        int first = 0;
        while (first < sources.length && !sources[first].hasRemaining()) {
            first++;
        }
        while (first < sources.length) {
            long written = sources.length - first == 1
                    ? channel.write(sources[first])
                    : channel.write(sources, first, sources.length - first);
            while (first < sources.length && !sources[first].hasRemaining()) {
                first++;
            }
            if (written == 0 && first < sources.length) {
                writeWaiter.await(0);
            }
        }
    }

    @Override
    protected void attachDescriptors(FileDescriptor[] descriptors) throws IOException {
        traits.descriptorPassing.attach(descriptors);
    }

    @Override
    protected String whyNoDescriptors() {
        return rings != null
                ? "its data travels in shared memory, and descriptors only over a socket"
                : traits.whyNoDescriptors;
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
        return traits.descriptorPassing != null && rings == null;
    }

    @Override
    public ThreadFactory threads(String name) {
        return Threads.factory(name, traits.virtualThreads);
    }

    @Override
    public String remote() {
        try {
            SocketAddress remote = channel.getRemoteAddress();
            if (remote instanceof InetSocketAddress) {
                InetSocketAddress inet = (InetSocketAddress) remote;
                return inet.getAddress().getHostAddress() + ":" + inet.getPort();
            }
        } catch (IOException e) {
            // closed already: fall back to the credentials
        }
        return peer.toString();
    }

    /** One read that waits at most the read timeout for data; the count, or -1 at end of stream. */
    @Override
    protected int readInto(ByteBuffer destination) throws IOException {
        if (prefix != null) {
            settleFirstBytes();
        }
        SharedRings shared = rings;
        if (shared != null) {
            try {
                return shared.read(destination, readTimeoutNanos);
            } catch (InternalError e) {
                throw shared.unreadable(e); // reported late by compiled code: see SharedRings.unreadable
            }
        }
        if (leftover == null && endedFirst) {
            return -1;
        }
        if (leftover != null) {
            int count = Math.min(leftover.remaining(), destination.remaining());
            int limit = leftover.limit();
            leftover.limit(leftover.position() + count);
            destination.put(leftover);
            leftover.limit(limit);
            if (!leftover.hasRemaining()) {
                leftover = null;
            }
            return count;
        }
        return readSocket(destination);
    }

    /**
     * A server's first read: the first four bytes decide whether the client asks for shared memory, which is then
     * answered; if they don't ask, they are kept as the start of the stream. A timeout keeps what arrived for the next
     * read. The caller holds the read lock.
     */
    private void settleFirstBytes() throws IOException {
        while (prefix.hasRemaining() && SharedMemoryHandshake.couldBeRequest(prefix)) {
            if (readSocket(prefix) < 0) {
                endedFirst = true;
                break;
            }
        }
        ByteBuffer first = prefix.flip();
        ConnectionOptions options = offer;
        prefix = null;
        offer = null;
        if (SharedMemoryHandshake.isRequest(first)) {
            try {
                rings = SharedMemoryHandshake.answer(new Wire(), options, label);
            } finally {
                allowDescriptors(maxDescriptors);
            }
            return;
        }
        allowDescriptors(maxDescriptors);
        if (options.get(ConnectionOptions.SHARED_MEMORY) == ConnectionOptions.SharedMemory.REQUIRE) {
            String why = "this listener requires shared memory (sharedMemory=require) and the client did not ask for"
                    + " it";
            send(Codec.error(0, ErrorCode.UNAUTHORIZED, why)); // the client learns why before the close
            throw new ProtocolException("the client of " + label + ": " + why + "; the connection is closed");
        }
        if (first.hasRemaining()) {
            leftover = first;
        }
    }

    /**
     * Where the listener offers shared memory, its handshake: waits for the client's first bytes and answers a request
     * before the connection is accepted, so that a client, whose connect waits for the answer, need not wait for the
     * server's first read. Frames can be sent all along (this is no TLS), so a handshake stopped from outside is woken
     * with {@link #shutdownInput()} and answered with an ERROR.
     */
    @Override
    public void handshake() throws IOException {
        readLock.lock();
        try {
            if (prefix != null) {
                settleFirstBytes();
            }
        } finally {
            readLock.unlock();
        }
    }

    /** One read from the socket that waits at most the read timeout; the count, or -1 at end of stream. */
    private int readSocket(ByteBuffer destination) throws IOException {
        int count = timed ? timedRead(destination) : checkNotClosed(channel.read(destination));
        if (traits.descriptorPassing != null && count > 0) {
            FileDescriptor[] arrived = traits.descriptorPassing.takeReceived();
            if (arrived != null && arrived.length > 0) {
                keep(arrived);
            }
        }
        return count;
    }

    /**
     * Holds the descriptors that arrived, up to the allowance; closes the rest at once and fails the read naming the
     * bound (the kernel installs up to about 60 in this process with one read, whatever the allowance).
     */
    private void keep(FileDescriptor[] arrived) throws ProtocolException {
        int kept = Math.max(0, Math.min(arrived.length, descriptorAllowance - receivedDescriptors.size()));
        receivedDescriptors.addAll(Arrays.asList(arrived).subList(0, kept));
        if (kept == arrived.length) {
            return;
        }
        Closer closer = new Closer();
        for (int i = kept; i < arrived.length; i++) {
            closer.close(new FileInputStream(arrived[i]));
        }
        try {
            closer.rethrow();
        } catch (IOException e) {
            LOG.debug("closing descriptors a peer of {} sent: {}", label, e.toString());
        }
        throw new ProtocolException("the peer of " + label + " sent " + arrived.length + " file descriptors with one "
                + "message, and this connection holds at most " + descriptorAllowance
                + " untaken (maxReceivedDescriptors"
                + (descriptorAllowance == maxDescriptors
                        ? ""
                        : ", or " + HANDSHAKE_DESCRIPTORS + " in the shared-memory handshake")
                + "); the " + (arrived.length - kept) + " over it were closed");
    }

    private int timedRead(ByteBuffer destination) throws IOException {
        long deadline = System.nanoTime() + readTimeoutNanos;
        boolean ready = false;
        while (true) {
            int count = channel.read(destination);
            if (count != 0) {
                return checkNotClosed(count);
            }
            if (ready && traits.emptyReadWhenReadyIsEnd && destination.hasRemaining()) {
                return checkNotClosed(-1);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new SocketTimeoutException(
                        "no data on " + label + " within readTimeout " + Duration.ofNanos(readTimeoutNanos));
            }
            // In slices: should junixsocket's selector miss a close's wake-up, the close is still seen.
            ready = readWaiter.await(Math.min(left, CLOSE_CHECK_NANOS));
            if (closed.get()) {
                throw new AsynchronousCloseException();
            }
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
    protected void closeOutput() throws IOException {
        SharedRings shared = rings;
        if (shared != null) {
            shared.shutdownOutput(); // the socket stays open both ways: it carries the wake-ups
        } else {
            channel.shutdownOutput();
        }
    }

    @Override
    public void shutdownInput() throws IOException {
        ensureOpen();
        SharedRings shared = rings;
        if (shared != null) {
            shared.shutdownInput();
        } else {
            channel.shutdownInput();
        }
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
    protected void release(Closer closer) {
        try {
            releaseDescriptorsAndRings(closer);
        } catch (InternalError e) {
            // A fault in a peer's memory that compiled code reported late: the connection is closing for it anyway.
            LOG.debug("closing {}: {}", label, e.toString());
        }
        // Selectors first: a channel still registered with one may put off closing its descriptor, and the peer
        // would not see the end of stream.
        closer.close(readWaiter).close(writeWaiter).close(channel);
    }

    private void releaseDescriptorsAndRings(Closer closer) {
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
        SharedRings shared = rings;
        if (shared != null) {
            shared.close(closer);
        }
    }

    /** The raw socket, for the shared-memory handshake; the caller holds the read lock. */
    private final class Wire implements SharedMemoryHandshake.Wire {
        @Override
        public void readFully(ByteBuffer destination) throws IOException {
            while (destination.hasRemaining()) {
                if (readSocket(destination) < 0) {
                    throw new EOFException("connection " + label + " ended inside the shared-memory handshake");
                }
            }
        }

        @Override
        public void write(ByteBuffer bytes, FileDescriptor descriptor) throws IOException {
            writeLock.lock();
            try {
                if (descriptor != null) {
                    traits.descriptorPassing.attach(new FileDescriptor[] {descriptor});
                }
                writeFully(new ByteBuffer[] {bytes});
            } finally {
                writeLock.unlock();
            }
        }

        @Override
        public List<FileDescriptor> takeDescriptors() {
            return takeReceivedDescriptors();
        }

        @Override
        public String whyNoDescriptors() {
            return traits.descriptorPassing == null ? traits.whyNoDescriptors : null;
        }

        @Override
        public SocketChannel socket() {
            return channel;
        }
    }
}
