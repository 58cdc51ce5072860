package dev.ipc.internal;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.Listener;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Listener} over a bound {@link ServerSocketChannel}, shared by every transport.
 *
 * <p>Each accepted connection is checked against the {@link AccessPolicy} before it is returned, so a refused peer
 * never reaches the caller. The channel is non-blocking and {@link #accept()} waits in a selector, which gives the
 * accept timeout and lets {@link #close()} wake a waiting thread on every backend alike.
 */
public final class ChannelListener implements FramedListener {

    private static final Logger LOG = LoggerFactory.getLogger(ChannelListener.class);
    private static final long CLOSE_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    /** Turns an accepted channel into a connection: options, peer credentials, labels. */
    @FunctionalInterface
    public interface Acceptor {
        /** Wraps {@code accepted}; on failure the listener closes it. */
        FramedConnection wrap(SocketChannel accepted) throws IOException;
    }

    private final ServerSocketChannel channel;
    private final Endpoint endpoint;
    private final long acceptTimeoutNanos;
    private final Acceptor acceptor;
    private final AccessPolicy policy;
    private final Closer.Action release;
    private final ReadinessWaiter waiter;
    private final ReentrantLock acceptLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile FramedListener.RefusalWatcher refusals = (peer, code, why) -> {};

    /**
     * Takes ownership of a bound channel.
     *
     * @param policy checked on each accepted connection before it is returned; a refused one is closed
     * @param release run once on close, after the channel is closed (to remove a socket file, say)
     */
    public ChannelListener(
            ServerSocketChannel channel,
            Endpoint endpoint,
            ConnectionOptions options,
            Acceptor acceptor,
            AccessPolicy policy,
            Closer.Action release)
            throws IOException {
        this.policy = Objects.requireNonNull(policy, "policy");
        this.channel = Objects.requireNonNull(channel, "channel");
        this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
        this.acceptTimeoutNanos = options.get(ConnectionOptions.ACCEPT_TIMEOUT).toNanos();
        this.acceptor = Objects.requireNonNull(acceptor, "acceptor");
        this.release = Objects.requireNonNull(release, "release");
        channel.configureBlocking(false);
        this.waiter = new ReadinessWaiter(channel, SelectionKey.OP_ACCEPT);
        LOG.debug("listening on {}", endpoint);
    }

    @Override
    public FramedConnection accept() throws IOException {
        acceptLock.lock();
        try {
            long deadline = System.nanoTime() + acceptTimeoutNanos;
            while (true) {
                if (closed.get()) {
                    throw new ClosedChannelException();
                }
                SocketChannel accepted;
                try {
                    accepted = channel.accept();
                } catch (ClosedChannelException e) {
                    throw closed.get() ? new AsynchronousCloseException() : e;
                }
                if (accepted != null) {
                    FramedConnection connection = wrap(accepted);
                    if (policy.permits(connection.peer())) {
                        return connection;
                    }
                    LOG.info(
                            "refused a connection on {} from {}: the access policy ({}) does not permit it",
                            endpoint,
                            connection.peer(),
                            policy);
                    // The peer speaks the protocol: tell it why, as a TLS or shared-secret refusal does.
                    String why = "the access policy of " + endpoint.withoutParameters() + " does not permit "
                            + connection.peer();
                    refusals.refused(connection.remote(), ErrorCode.UNAUTHORIZED, why);
                    Refusals.refuse(connection, Codec.error(0, ErrorCode.UNAUTHORIZED, why));
                    continue;
                }
                long left = acceptTimeoutNanos == 0 ? 0 : deadline - System.nanoTime();
                if (acceptTimeoutNanos > 0 && left <= 0) {
                    throw new SocketTimeoutException("no connection on " + endpoint + " within acceptTimeout "
                            + Duration.ofNanos(acceptTimeoutNanos));
                }
                // Bounded even without an accept timeout: should a close's wakeup be lost (junixsocket's
                // selector has lost one), the loop still sees the close within half a second.
                waiter.await(left > 0 ? Math.min(left, CLOSE_CHECK_NANOS) : CLOSE_CHECK_NANOS);
            }
        } finally {
            acceptLock.unlock();
        }
    }

    @Override
    public void watchRefusals(FramedListener.RefusalWatcher watcher) {
        this.refusals = Objects.requireNonNull(watcher, "watcher");
    }

    private FramedConnection wrap(SocketChannel accepted) throws IOException {
        try {
            return acceptor.wrap(accepted);
        } catch (IOException | RuntimeException | Error e) {
            Closer.closeQuietly(accepted, e);
            throw e;
        }
    }

    @Override
    public Endpoint endpoint() {
        return endpoint;
    }

    @Override
    public boolean isOpen() {
        return !closed.get();
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.debug("closing listener on {}", endpoint);
        new Closer().close(waiter).close(channel).run(release).rethrow();
    }

    @Override
    public String toString() {
        return "Listener[" + endpoint + (isOpen() ? "" : ", closed") + "]";
    }
}
