package dev.ipc.internal;

import dev.ipc.AccessPolicy;
import dev.ipc.AuthenticationException;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.Listener;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Listener} whose connections shake hands (TLS, a shared secret, or both) before {@link #accept()} returns
 * them, each on its own thread, so one silent client can't hold up others.
 *
 * <p>A background thread, from construction to close, takes connections from the inner listener as long as fewer than
 * {@code backlog} are accepted and not yet handed out; beyond that the kernel's backlog queues them as it would without
 * handshakes. Each handshake must finish within {@link ConnectionOptions#HANDSHAKE_TIMEOUT}. The access policy is
 * checked on the credentials the handshake proved. A failed or refused connection is closed and logged at info level
 * with its cause; it never reaches the caller.
 */
public final class HandshakingListener implements FramedListener {

    private static final Logger LOG = LoggerFactory.getLogger(HandshakingListener.class);

    private final FramedListener inner;
    private final Duration handshakeTimeout;
    private final long acceptTimeoutNanos;
    private final AccessPolicy policy;
    private final byte[] secret;
    private final Semaphore room;
    private final HandshakeSlots slots;
    private final LinkedBlockingQueue<FramedConnection> ready = new LinkedBlockingQueue<>();
    private final Set<FramedConnection> shaking = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile FramedListener.RefusalWatcher refusals = (peer, code, why) -> {};
    private final Thread acceptor;

    /**
     * Takes ownership of {@code inner}.
     *
     * @param policy checked on each connection after its handshake
     * @param secret the shared secret clients must prove, or null for none
     */
    public HandshakingListener(FramedListener inner, ConnectionOptions options, AccessPolicy policy, byte[] secret) {
        this.inner = Objects.requireNonNull(inner, "inner");
        this.handshakeTimeout = options.get(ConnectionOptions.HANDSHAKE_TIMEOUT);
        this.acceptTimeoutNanos = options.get(ConnectionOptions.ACCEPT_TIMEOUT).toNanos();
        this.policy = Objects.requireNonNull(policy, "policy");
        this.secret = secret == null ? null : secret.clone();
        this.room = new Semaphore(options.get(ConnectionOptions.BACKLOG));
        this.slots = new HandshakeSlots(
                inner.endpoint(),
                options.get(ConnectionOptions.MAX_HANDSHAKES),
                options.get(ConnectionOptions.MAX_HANDSHAKES_PER_PEER));
        // Handshakes start at once, not at the first accept(): a TLS client's connect waits for its
        // handshake, and code that connects before it accepts is common.
        Thread thread = new Thread(this::acceptLoop, "ipc-handshake-accept " + inner.endpoint());
        thread.setDaemon(true);
        acceptor = thread;
        thread.start();
    }

    @Override
    public FramedConnection accept() throws IOException {
        if (closed.get()) {
            throw new ClosedChannelException();
        }
        long deadline = System.nanoTime() + acceptTimeoutNanos;
        while (true) {
            FramedConnection connection;
            try {
                long left = acceptTimeoutNanos == 0 ? TimeUnit.MILLISECONDS.toNanos(100) : deadline - System.nanoTime();
                connection = ready.poll(
                        Math.max(0, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100))), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while accepting on " + endpoint());
            }
            if (connection != null) {
                room.release();
                if (closed.get()) {
                    Closer.closeQuietly(connection, null);
                    throw new AsynchronousCloseException();
                }
                return connection;
            }
            if (closed.get()) {
                throw new AsynchronousCloseException();
            }
            if (acceptTimeoutNanos > 0 && deadline - System.nanoTime() <= 0) {
                throw new SocketTimeoutException("no connection on " + endpoint() + " within acceptTimeout "
                        + Duration.ofNanos(acceptTimeoutNanos));
            }
        }
    }

    private void acceptLoop() {
        AcceptLoop.run(
                endpoint(),
                () -> {
                    try {
                        room.acquire();
                    } catch (InterruptedException e) {
                        throw new InterruptedIOException("closed");
                    }
                    try {
                        return inner.accept();
                    } catch (IOException | RuntimeException e) {
                        room.release();
                        throw e;
                    }
                },
                () -> !closed.get() && inner.isOpen(),
                this::startHandshake);
    }

    private void startHandshake(FramedConnection raw) {
        shaking.add(raw);
        Handshake handshake = new Handshake(raw);
        handshake.slot = slots.admit(
                HandshakeSlots.peerOf(raw),
                () -> handshake.stop(ErrorCode.TOO_MANY_CONNECTIONS, slots.pushedOutMessage()));
        try {
            raw.threads("ipc-handshake " + endpoint())
                    .newThread(() -> shakeHands(handshake))
                    .start();
        } catch (RuntimeException | Error e) {
            shaking.remove(raw);
            handshake.slot.release();
            room.release();
            Closer.closeQuietly(raw, e);
            LOG.warn("no thread for a handshake on {}: {}", endpoint(), e.toString());
        }
    }

    /** One connection's handshake, and why it was stopped from outside, if it was. */
    private static final class Handshake {
        final FramedConnection connection;
        final AtomicBoolean framing = new AtomicBoolean(); // whether frames can be sent: TLS's handshake is done
        HandshakeSlots.Slot slot;
        private ErrorCode stopCode; // guarded by this
        private String stopped; // guarded by this

        Handshake(FramedConnection connection) {
            this.connection = connection;
            // Without a TLS handshake frames can be sent from the start: a stop before the secret's exchange has begun
            // is still answered with an ERROR.
            framing.set(!connection.hasHandshake());
        }

        /** Stops the handshake from another thread, which must not block: its own thread then says why, and ends. */
        void stop(ErrorCode code, String why) {
            synchronized (this) {
                if (stopped != null) {
                    return;
                }
                stopCode = code;
                stopped = why;
            }
            try {
                if (framing.get()) {
                    connection.shutdownInput(); // wakes the blocked read; the handshake's thread sends the ERROR
                } else {
                    connection.abortHandle().close(); // mid-TLS: nothing can be sent
                }
            } catch (Exception e) {
                Closer.closeQuietly(connection.abortHandle(), e);
            }
        }

        /** Why it was stopped from outside, as an ERROR if frames can carry one; null if it was not. */
        synchronized byte[] refusal() {
            return stopped == null || !framing.get() ? null : Codec.error(0, stopCode, stopped);
        }

        synchronized String stopped() {
            return stopped;
        }

        synchronized boolean pushedOut() {
            return stopCode == ErrorCode.TOO_MANY_CONNECTIONS;
        }
    }

    private void shakeHands(Handshake handshake) {
        FramedConnection connection = handshake.connection;
        String peer = "client " + connection.remote();
        boolean admitted = false;
        byte[] refusal = null;
        String timedOut = "the handshake did not finish within handshakeTimeout " + handshakeTimeout;
        try {
            AutoCloseable abort = () -> handshake.stop(ErrorCode.TIMEOUT, timedOut);
            Deadline.within(handshakeTimeout, abort, timedOut, () -> {
                connection.handshake();
                if (secret != null) {
                    handshake.framing.set(true);
                    SecretHandshake.verify(connection, secret, peer);
                }
            });
            if (!handshake.slot.release()) {
                throw new IOException(handshake.stopped());
            }
            if (!policy.permits(connection.peer())) {
                LOG.info(
                        "refused a connection on {} from {}: the access policy ({}) does not permit {}",
                        endpoint(),
                        peer,
                        policy,
                        connection.peer());
                // Past the handshake the peer speaks the protocol: tell it why, as a server refuses a request.
                String why = "the access policy of " + endpoint().withoutParameters() + " does not permit "
                        + connection.peer();
                refusals.refused(connection.remote(), ErrorCode.UNAUTHORIZED, why);
                refusal = Codec.error(0, ErrorCode.UNAUTHORIZED, why);
                return;
            }
            admitted = true;
        } catch (IOException | RuntimeException e) {
            String stopped = handshake.stopped();
            if (handshake.pushedOut()) {
                // One of many, perhaps: HandshakeSlots warns about them, a minute apart.
                LOG.debug("ended a connection on {} from {}: {}", endpoint(), peer, stopped);
            } else {
                LOG.info(
                        "refused a connection on {} from {}: {}",
                        endpoint(),
                        peer,
                        stopped != null ? stopped : describe(e));
            }
            refusal = handshake.refusal(); // a limit is answered, never with silence
            refusals.refused(connection.remote(), refusedWith(refusal, e), stopped != null ? stopped : describe(e));
        } finally {
            handshake.slot.release();
            shaking.remove(connection);
            if (admitted && !closed.get()) {
                ready.add(connection);
                if (closed.get() && ready.remove(connection)) {
                    Closer.closeQuietly(connection, null);
                }
            } else {
                room.release();
                // Whatever the handshake said last (an ERROR) reaches the peer before the close.
                connection.finish(refusal, closed.get() ? Duration.ZERO : Refusals.LINGER);
            }
        }
    }

    /** The code a refused handshake was answered with, or (where it could not be told) would have been. */
    private static ErrorCode refusedWith(byte[] refusal, Exception e) {
        if (refusal != null) {
            try {
                if (Codec.decode(refusal, Codec.VERSION) instanceof Frame.Error error) {
                    return error.errorCode();
                }
            } catch (ProtocolException malformed) {
                // made here: cannot be
            }
        }
        return e instanceof SSLException || e instanceof AuthenticationException
                ? ErrorCode.UNAUTHORIZED
                : ErrorCode.PROTOCOL_ERROR;
    }

    @Override
    public void watchRefusals(FramedListener.RefusalWatcher watcher) {
        this.refusals = Objects.requireNonNull(watcher, "watcher");
        inner.watchRefusals(watcher);
    }

    private static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        Throwable cause = e.getCause();
        return cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())
                ? message + " (" + cause.getMessage() + ")"
                : message;
    }

    @Override
    public Endpoint endpoint() {
        return inner.endpoint();
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
        Closer closer = new Closer().close(inner);
        acceptor.interrupt();
        for (FramedConnection connection : shaking) {
            closer.close(connection.abortHandle());
        }
        for (FramedConnection connection = ready.poll(); connection != null; connection = ready.poll()) {
            closer.close(connection);
        }
        closer.rethrow();
    }

    @Override
    public String toString() {
        return "Listener[" + endpoint() + (isOpen() ? "" : ", closed") + "]";
    }
}
