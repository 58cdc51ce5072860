package dev.ipc;

import dev.ipc.internal.AcceptLoop;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.Protocol;
import dev.ipc.internal.Threads;
import java.io.IOException;
import java.net.ProtocolException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server that answers requests on an endpoint: bytes in, bytes out, many requests in flight on each connection, over
 * any transport.
 *
 * <pre>{@code
 * try (IpcServer server = IpcServer.builder(Endpoint.parse("unix:/run/kv/kv.sock"))
 *         .handler(request -> handle(request))
 *         .build()) {
 *     server.serve(); // until close() from another thread, or the JVM's shutdown
 * }
 * }</pre>
 *
 * <p>Each connection is read on a thread of its own, at most {@link ServerOptions#MAX_CONNECTIONS} of them (virtual on
 * JDK 21 and later, except for junixsocket's channels, else a daemon platform thread); each request runs its handler on
 * a worker, so replies may leave in any order. The limits in {@link ServerOptions} (connections in all and per peer
 * user, requests in flight, frame size, hello, idle and mid-frame timeouts) are enforced with an error frame or a
 * close, never a hang. A handler that throws fails its request with a HANDLER_FAILED error reply; the connection and
 * the server go on.
 *
 * <p>{@link #close()} is graceful: the endpoint is released at once, connections are told GOAWAY, requests in flight
 * may finish within {@link ServerOptions#SHUTDOWN_TIMEOUT}, new ones are answered SHUTTING_DOWN, then what is left is
 * closed. The wire protocol is in {@code docs/PROTOCOL.md}.
 */
public final class IpcServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IpcServer.class);
    private static final AtomicInteger SERVERS = new AtomicInteger();

    /** Answers one request; runs on a worker thread, many at once. */
    @FunctionalInterface
    public interface Handler {
        /** The reply to {@code request}; throwing fails this request only. */
        byte[] handle(byte[] request) throws Exception;
    }

    /** Answers one request when it is ready, without holding a thread meanwhile. */
    @FunctionalInterface
    public interface AsyncHandler {
        /** The reply to {@code request}, later; a failed stage fails this request only. */
        CompletionStage<byte[]> handle(byte[] request);
    }

    private enum State {
        NEW,
        RUNNING,
        CLOSING,
        CLOSED
    }

    private final Endpoint endpoint;
    /** The builder's options with the endpoint's query applied. */
    private final ServerOptions options;
    /** What the connections read of them, on every request and watchdog tick. */
    private final Limits limits;

    private final AsyncHandler handler;
    private final String name = "ipc-server-" + SERVERS.incrementAndGet();
    private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final Set<Thread> sessionThreads = ConcurrentHashMap.newKeySet();
    private final Set<Connection> refused = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicInteger> perPeer = new ConcurrentHashMap<>();
    private final ReentrantLock inFlightLock = new ReentrantLock();
    private final Condition allDone = inFlightLock.newCondition();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private int inFlight;

    private FramedListener listener;
    private ExecutorService workers;
    private ScheduledExecutorService watchdog;
    private Thread acceptor;

    private IpcServer(Builder builder) {
        this.endpoint = builder.endpoint;
        this.options = builder.options.toBuilder().query(builder.endpoint).build();
        this.limits = new Limits(options);
        this.handler = builder.handler;
    }

    /** A builder for a server on {@code endpoint}. */
    public static Builder builder(Endpoint endpoint) {
        return new Builder(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /**
     * Binds the endpoint and starts serving on background threads; returns at once.
     *
     * @throws IllegalStateException if started before or closed
     * @throws IOException if the endpoint can't be bound; the message names it and the cause
     */
    public IpcServer start() throws IOException {
        if (!state.compareAndSet(State.NEW, State.RUNNING)) {
            throw new IllegalStateException("server on " + endpoint + " was already started");
        }
        // The runtime reads with its own timeouts; its frames carry a type and an id beside the payload.
        ConnectionOptions connectionOptions = ConnectionOptions.takenFrom(options)
                .set(ConnectionOptions.MAX_FRAME_SIZE, Protocol.frameLimit(limits.maxPayload))
                .build();
        try {
            listener = Ipc.listenFramed(endpoint.withoutParameters(), connectionOptions);
        } catch (IOException | RuntimeException e) {
            state.set(State.CLOSED);
            stopped.countDown();
            throw e;
        }
        workers = Threads.workers(
                name + "-worker", Math.max(8, 4 * Runtime.getRuntime().availableProcessors()));
        watchdog = Executors.newSingleThreadScheduledExecutor(Threads.daemons(name + "-watchdog"));
        long tick = watchdogTick();
        watchdog.scheduleWithFixedDelay(this::enforceTimeouts, tick, tick, TimeUnit.MILLISECONDS);
        acceptor = new Thread(this::acceptLoop, name + "-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        LOG.info(
                "serving on {} ({} threads)",
                listener.endpoint(),
                Threads.haveVirtualThreads() ? "virtual" : "platform");
        return this;
    }

    private long watchdogTick() {
        long shortest = Long.MAX_VALUE;
        for (Duration timeout :
                new Duration[] {limits.handshakeTimeout, limits.idleTimeout, limits.frameTimeout, limits.writeTimeout
                }) {
            if (!timeout.isZero()) {
                shortest = Math.min(shortest, timeout.toMillis());
            }
        }
        return Math.max(10, Math.min(1000, shortest / 4));
    }

    /** Starts if not started, then blocks until {@link #close()} has finished. */
    public void serve() throws IOException, InterruptedException {
        if (state.get() == State.NEW) {
            start();
        }
        stopped.await();
    }

    /**
     * The bound endpoint, with its query: for {@code tcp://host:0}, with the real port.
     *
     * @throws IllegalStateException if not started
     */
    public Endpoint endpoint() {
        if (listener == null) {
            throw new IllegalStateException("server on " + endpoint + " is not started");
        }
        Endpoint bound = listener.endpoint();
        for (Map.Entry<String, String> parameter : endpoint.parameters().entrySet()) {
            bound = bound.withParameter(parameter.getKey(), parameter.getValue());
        }
        return bound;
    }

    private void acceptLoop() {
        AcceptLoop.run(
                listener.endpoint(),
                listener::accept,
                () -> state.get() == State.RUNNING && listener.isOpen(),
                this::admit);
    }

    private void admit(FramedConnection connection) {
        if (state.get() != State.RUNNING) {
            Closer.closeQuietly(connection, null); // accepted as the server began to close
            return;
        }
        String peer = peerKey(connection.peer());
        if (sessions.size() >= limits.maxConnections) {
            refuse(
                    connection,
                    ErrorCode.TOO_MANY_CONNECTIONS,
                    "the server holds its maximum of " + limits.maxConnections + " connections");
            return;
        }
        if (peer != null && limits.maxConnectionsPerPeer > 0) {
            AtomicInteger count = perPeer.computeIfAbsent(peer, key -> new AtomicInteger());
            if (count.incrementAndGet() > limits.maxConnectionsPerPeer) {
                count.decrementAndGet();
                refuse(
                        connection,
                        ErrorCode.TOO_MANY_CONNECTIONS,
                        "peer " + peer + " holds its maximum of " + limits.maxConnectionsPerPeer + " connections");
                return;
            }
        }
        Session session = new Session(connection, peer);
        sessions.add(session);
        try {
            Thread thread = connection.threads(name + "-connection").newThread(session::run);
            sessionThreads.add(thread);
            try {
                thread.start();
            } catch (RuntimeException | OutOfMemoryError e) {
                sessionThreads.remove(thread);
                throw e;
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            session.finish();
            refuse(connection, ErrorCode.TOO_MANY_CONNECTIONS, "the server has no thread for another connection");
        }
    }

    private static String peerKey(PeerCredentials peer) {
        if (peer.uid().isPresent()) {
            return "uid " + peer.uid().getAsLong();
        }
        return peer.user().map(user -> "user " + user).orElse(null);
    }

    /** Tells the peer why, then closes, giving it a moment to read the error first. */
    private void refuse(Connection connection, ErrorCode code, String why) {
        LOG.debug("refused a connection on {}: {}", endpoint, why);
        try {
            connection.send(Protocol.error(0, code, why));
            connection.shutdownOutput();
        } catch (IOException e) {
            // The peer is gone already.
        }
        refused.add(connection);
        try {
            watchdog.schedule(
                    () -> {
                        refused.remove(connection);
                        Closer.closeQuietly(connection, null);
                    },
                    200,
                    TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            refused.remove(connection);
            Closer.closeQuietly(connection, null);
        }
    }

    private void enforceTimeouts() {
        long now = System.nanoTime();
        for (Session session : sessions) {
            session.enforceTimeouts(now);
        }
    }

    private void requestStarted() {
        inFlightLock.lock();
        try {
            inFlight++;
        } finally {
            inFlightLock.unlock();
        }
    }

    private void requestDone() {
        inFlightLock.lock();
        try {
            if (--inFlight == 0) {
                allDone.signalAll();
            }
        } finally {
            inFlightLock.unlock();
        }
    }

    /**
     * Shuts down gracefully: releases the endpoint at once, lets requests in flight finish within the shutdown timeout,
     * answers new ones SHUTTING_DOWN, then closes what is left. Idempotent; blocks until done.
     */
    @Override
    public void close() throws IOException {
        if (state.compareAndSet(State.NEW, State.CLOSED)) {
            stopped.countDown();
            return;
        }
        if (!state.compareAndSet(State.RUNNING, State.CLOSING)) {
            awaitStopped();
            return;
        }
        Closer closer = new Closer();
        closer.close(listener);
        // Once the accept thread has stopped, the sessions are all there will be (admit closes latecomers).
        closer.run(() -> acceptor.join(10_000));
        for (Session session : sessions) {
            session.goAway();
        }
        boolean drained = awaitInFlight(limits.shutdownTimeout);
        for (Session session : sessions) {
            closer.close(session.connection);
        }
        sessionThreads.forEach(Thread::interrupt); // as the executors' shutdownNow did
        closer.run(this::joinSessions);
        closer.run(() -> shutDown(workers));
        closer.run(() -> shutDown(watchdog));
        for (Connection connection : refused) {
            closer.close(connection); // refused, their close still scheduled on the watchdog
        }
        state.set(State.CLOSED);
        stopped.countDown();
        LOG.info(
                "stopped serving on {}{}",
                listener.endpoint(),
                drained ? "" : " (requests still in flight were cut off)");
        closer.rethrow();
    }

    private void awaitStopped() {
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private boolean awaitInFlight(Duration timeout) {
        long left = timeout.toNanos();
        inFlightLock.lock();
        try {
            while (inFlight > 0 && left > 0) {
                left = allDone.awaitNanos(left);
            }
            return inFlight == 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            inFlightLock.unlock();
        }
    }

    /** Waits up to 10 s in all for the connections' threads, which end once their connections are closed. */
    private void joinSessions() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Thread thread : sessionThreads) {
            thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            if (thread.isAlive()) {
                LOG.warn("server threads did not stop within 10 s");
                return;
            }
        }
    }

    private static void shutDown(ExecutorService executor) throws InterruptedException {
        executor.shutdownNow();
        if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
            LOG.warn("server threads did not stop within 10 s");
        }
    }

    @Override
    public String toString() {
        return "IpcServer[" + (listener == null ? endpoint : listener.endpoint()) + ", " + state.get() + "]";
    }

    /** The limits and timeouts the connections read, taken from the options once. */
    private static final class Limits {
        final int maxPayload;
        final int maxInFlight;
        final int maxConnections;
        final int maxConnectionsPerPeer;
        final Duration handshakeTimeout;
        final Duration idleTimeout;
        final Duration frameTimeout;
        final Duration writeTimeout;
        final Duration shutdownTimeout;

        Limits(ServerOptions options) {
            maxPayload = options.get(ConnectionOptions.MAX_FRAME_SIZE);
            maxInFlight = options.get(ServerOptions.MAX_IN_FLIGHT);
            maxConnections = options.get(ServerOptions.MAX_CONNECTIONS);
            maxConnectionsPerPeer = options.get(ServerOptions.MAX_CONNECTIONS_PER_PEER);
            handshakeTimeout = options.get(ConnectionOptions.HANDSHAKE_TIMEOUT);
            idleTimeout = options.get(ServerOptions.IDLE_TIMEOUT);
            frameTimeout = options.get(ServerOptions.FRAME_TIMEOUT);
            writeTimeout = options.get(ServerOptions.WRITE_TIMEOUT);
            shutdownTimeout = options.get(ServerOptions.SHUTDOWN_TIMEOUT);
        }
    }

    /** One connection: its handshake, its requests, its timeouts. */
    private final class Session {
        final FramedConnection connection;
        private final String peer;
        private final AtomicInteger requests = new AtomicInteger();
        private final long acceptedAt = System.nanoTime();
        private final Object welcomeLock = new Object();
        private volatile boolean welcomed;
        private volatile boolean draining;
        private volatile long lastActivity = System.nanoTime();
        private final AtomicBoolean finished = new AtomicBoolean();

        private final ConcurrentLinkedQueue<byte[]> outbox = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean writing = new AtomicBoolean();

        Session(FramedConnection connection, String peer) {
            this.connection = connection;
            this.peer = peer;
        }

        void run() {
            try {
                int version = Protocol.readHello(connection.input());
                if (version != Protocol.VERSION) {
                    connection.send(Protocol.error(
                            0,
                            ErrorCode.UNSUPPORTED_VERSION,
                            "protocol version " + version + " is not spoken here; this server speaks version "
                                    + Protocol.VERSION));
                    return;
                }
                synchronized (welcomeLock) {
                    // With goAway(): a client that has its WELCOME always gets the GOAWAY of a closing server.
                    connection.send(Protocol.welcome(Protocol.VERSION, limits.maxPayload));
                    welcomed = true;
                    if (draining) {
                        sendQuietly(Protocol.goaway("the server is shutting down"));
                    }
                }
                lastActivity = System.nanoTime();
                for (byte[] frame = connection.receive(); frame != null; frame = connection.receive()) {
                    lastActivity = System.nanoTime();
                    if (Protocol.type(frame) != Protocol.REQUEST) {
                        // Requests already taken still get their replies, then the error, then the close.
                        awaitOwnRequests();
                        connection.send(Protocol.error(
                                0,
                                ErrorCode.PROTOCOL_ERROR,
                                "a client sends REQUEST frames " + "(type 3) after the hello, not type " + frame[0]));
                        return;
                    }
                    dispatch(Protocol.id(frame), frame);
                }
                awaitOwnRequests();
            } catch (ProtocolException e) {
                LOG.info("closing {}: {}", connection, e.getMessage());
                sendQuietly(Protocol.error(0, ErrorCode.PROTOCOL_ERROR, e.getMessage()));
            } catch (IOException e) {
                LOG.debug("connection {} ended: {}", connection, e.toString());
            } finally {
                Closer.closeQuietly(connection, null);
                finish();
                sessionThreads.remove(Thread.currentThread());
            }
        }

        private void dispatch(int id, byte[] frame) throws IOException {
            if (draining) {
                connection.send(Protocol.error(id, ErrorCode.SHUTTING_DOWN, "the server is shutting down"));
                return;
            }
            if (requests.get() >= limits.maxInFlight) {
                connection.send(Protocol.error(
                        id,
                        ErrorCode.TOO_MANY_REQUESTS,
                        "this connection has its maximum of " + limits.maxInFlight + " requests in flight"));
                return;
            }
            requests.incrementAndGet();
            requestStarted();
            byte[] payload = Protocol.payload(frame);
            try {
                workers.execute(() -> {
                    CompletionStage<byte[]> reply;
                    try {
                        reply = handler.handle(payload);
                    } catch (Throwable t) {
                        reply = CompletableFuture.failedFuture(t);
                    }
                    CompletionStage<byte[]> answered = reply == null ? CompletableFuture.completedFuture(null) : reply;
                    answered.whenComplete((answer, failure) -> reply(id, answer, failure));
                });
            } catch (RuntimeException e) {
                reply(id, null, e);
            }
        }

        private void reply(int id, byte[] answer, Throwable failure) {
            byte[] frame;
            try {
                if (failure != null) {
                    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                            ? failure.getCause()
                            : failure;
                    LOG.debug("handler failed request {} on {}", id, connection, cause);
                    frame = Protocol.error(id, ErrorCode.HANDLER_FAILED, String.valueOf(cause));
                } else if (answer == null) {
                    frame = Protocol.error(id, ErrorCode.HANDLER_FAILED, "the handler returned no reply (null)");
                } else if (answer.length > limits.maxPayload) {
                    frame = Protocol.error(
                            id,
                            ErrorCode.FRAME_TOO_LARGE,
                            "the reply of " + answer.length + " bytes is over maxFrameSize " + limits.maxPayload);
                } else {
                    frame = Protocol.call(Protocol.RESPONSE, id, answer);
                }
            } catch (RuntimeException | Error e) {
                finishRequest();
                throw e;
            }
            outbox.add(frame);
            drainOutbox();
        }

        /**
         * Writes the replies waiting in the outbox, one thread at a time: a worker that finds another writing leaves
         * its reply and returns, so a peer that stops reading holds one thread, not the pool. A reply counts against
         * maxInFlight until it is written, which bounds what waits here.
         */
        private void drainOutbox() {
            while (!outbox.isEmpty() && writing.compareAndSet(false, true)) {
                try {
                    for (byte[] frame = outbox.poll(); frame != null; frame = outbox.poll()) {
                        try {
                            sendQuietly(frame);
                            lastActivity = System.nanoTime();
                        } finally {
                            finishRequest();
                        }
                    }
                } finally {
                    writing.set(false);
                }
            }
        }

        private void finishRequest() {
            requests.decrementAndGet();
            requestDone();
            synchronized (this) {
                notifyAll();
            }
        }

        private void sendQuietly(byte[] frame) {
            try {
                connection.send(frame);
            } catch (IOException | RuntimeException e) {
                LOG.debug("could not send to {}: {}", connection, e.toString());
                Closer.closeQuietly(connection, null);
            }
        }

        /** After the peer's end of stream: its replies still go out, then the connection closes. */
        private void awaitOwnRequests() {
            long deadline = System.nanoTime() + limits.shutdownTimeout.toNanos();
            synchronized (this) {
                while (requests.get() > 0 && connection.isOpen()) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return;
                    }
                    try {
                        wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }

        void goAway() {
            synchronized (welcomeLock) {
                draining = true;
                if (welcomed) {
                    sendQuietly(Protocol.goaway("the server is shutting down"));
                }
            }
        }

        // Watchdog state: the write seen in progress, and since when (only the watchdog thread uses these).
        private long stalledWrite = -1;
        private long stalledSince;

        void enforceTimeouts(long now) {
            long writes = connection.writeCount();
            if ((writes & 1) == 0) {
                stalledWrite = -1; // no write in progress
            } else if (writes != stalledWrite) {
                stalledWrite = writes; // a write in progress, first seen now
                stalledSince = now;
            } else if (expired(limits.writeTimeout, stalledSince, now)) {
                // Nothing can be sent to say why: the peer is not reading. Closing frees the blocked writer.
                LOG.info(
                        "closing {}: a write to {} stalled for writeTimeout {} (the peer reads nothing)",
                        connection,
                        peer == null ? "the peer" : peer,
                        limits.writeTimeout);
                Closer.closeQuietly(connection, null);
                return;
            }
            if (!welcomed) {
                if (expired(limits.handshakeTimeout, acceptedAt, now)) {
                    timeOut("no hello within handshakeTimeout " + limits.handshakeTimeout);
                }
                return;
            }
            long partial = connection.partialFrameSince();
            if (partial != 0 && expired(limits.frameTimeout, partial, now)) {
                timeOut("a frame stopped arriving half way for frameTimeout " + limits.frameTimeout);
            } else if (partial == 0 && requests.get() == 0 && expired(limits.idleTimeout, lastActivity, now)) {
                timeOut("idle for idleTimeout " + limits.idleTimeout);
            }
        }

        private boolean expired(Duration timeout, long since, long now) {
            return !timeout.isZero() && now - since > timeout.toNanos();
        }

        private void timeOut(String why) {
            LOG.debug("closing {}: {}", connection, why);
            sendQuietly(Protocol.error(0, ErrorCode.TIMEOUT, why));
            Closer.closeQuietly(connection, null);
        }

        void finish() {
            if (finished.compareAndSet(false, true)) {
                sessions.remove(this);
                if (peer != null && limits.maxConnectionsPerPeer > 0) {
                    perPeer.computeIfPresent(peer, (key, count) -> count.decrementAndGet() == 0 ? null : count);
                }
            }
        }
    }

    /** Builds an {@link IpcServer}; not thread-safe. */
    public static final class Builder {
        private final Endpoint endpoint;
        private ServerOptions options = ServerOptions.defaults();
        private AsyncHandler handler;

        private Builder(Endpoint endpoint) {
            this.endpoint = endpoint;
        }

        /** The options; those in the endpoint's query override them. */
        public Builder options(ServerOptions options) {
            this.options = Objects.requireNonNull(options, "options");
            return this;
        }

        /** The handler that answers each request on a worker thread. */
        public Builder handler(Handler handler) {
            Objects.requireNonNull(handler, "handler");
            this.handler = request -> {
                try {
                    return CompletableFuture.completedFuture(handler.handle(request));
                } catch (Exception e) {
                    return CompletableFuture.failedFuture(e);
                }
            };
            return this;
        }

        /** A handler that answers later, through a {@link CompletionStage}. */
        public Builder asyncHandler(AsyncHandler handler) {
            this.handler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /**
         * The server, not yet started.
         *
         * @throws IllegalStateException if no handler was given
         * @throws IllegalArgumentException if the endpoint's query holds an invalid option
         */
        public IpcServer build() {
            if (handler == null) {
                throw new IllegalStateException("an IpcServer needs a handler: call handler(...) or asyncHandler(...)");
            }
            return new IpcServer(this); // applies the endpoint's query: a bad one fails here
        }
    }
}
