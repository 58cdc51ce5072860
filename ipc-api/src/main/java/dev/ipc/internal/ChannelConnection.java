package dev.ipc.internal;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
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
import java.util.concurrent.ThreadFactory;
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

    private final SocketChannel channel;
    private final Endpoint localEndpoint;
    private final PeerCredentials peer;
    private final long readTimeoutNanos;
    private final boolean timed;
    private final ChannelTraits traits;

    private final ReadinessWaiter readWaiter;
    private final ReadinessWaiter writeWaiter;

    // Guarded by readLock.
    private final List<FileDescriptor> receivedDescriptors = new ArrayList<>();

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
        this.timed = readTimeoutNanos > 0;
        channel.configureBlocking(!timed);
        this.readWaiter = new ReadinessWaiter(channel, SelectionKey.OP_READ);
        this.writeWaiter = new ReadinessWaiter(channel, SelectionKey.OP_WRITE);
        LOG.debug("connection open: {}, peer {}", label, peer);
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
        return traits.whyNoDescriptors;
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
        return traits.descriptorPassing != null;
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
        int count = timed ? timedRead(destination) : checkNotClosed(channel.read(destination));
        if (traits.descriptorPassing != null && count > 0) {
            FileDescriptor[] arrived = traits.descriptorPassing.takeReceived();
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
            if (ready && traits.emptyReadWhenReadyIsEnd && destination.hasRemaining()) {
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
    protected void closeOutput() throws IOException {
        channel.shutdownOutput();
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
    protected void release(Closer closer) {
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
        // Selectors first: a channel still registered with one may put off closing its descriptor, and the peer
        // would not see the end of stream.
        closer.close(readWaiter).close(writeWaiter).close(channel);
    }
}
