package dev.ipc;

import dev.ipc.internal.AcceptLoop;
import dev.ipc.internal.Closer;
import dev.ipc.internal.Codec;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.HandshakeSlots;
import dev.ipc.internal.MemoryBudget;
import dev.ipc.internal.Refusals;
import dev.ipc.internal.Threads;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server that answers requests on an endpoint: bytes in, bytes out, many requests in flight on each connection, over
 * any transport.
 *
 * <pre>{@code
 * try (IpcServer server = IpcServer.builder(Endpoint.parse("unix:/run/kv/kv.sock"))
 *         .handler(request -> handle(request))
 *         .build()
 *         .closeOnShutdown()) { // SIGTERM or Ctrl-C closes it gracefully
 *     server.serve(); // until close(), from another thread or at the JVM's shutdown
 * }
 * }</pre>
 *
 * <p>Each connection is read on a thread of its own, at most {@link ServerOptions#MAX_CONNECTIONS} of them (virtual on
 * JDK 21 and later, except for junixsocket's channels, else a daemon platform thread); each request runs its handler on
 * a worker, so replies may leave in any order. The limits in {@link ServerOptions} (connections in all and per peer
 * user, requests in flight, frame size, hello, idle and mid-frame timeouts) are enforced with an error frame or a
 * close, never a hang. A handler that throws {@link ApplicationException} answers with that error, number and message,
 * as the caller will catch it; anything else it throws fails its request with {@link ErrorCode#INTERNAL}, which names
 * only an incident id, while the server logs the cause with that id at WARN. The connection and the server go on.
 *
 * <p>{@link #close()} is graceful: the endpoint is released at once; each connection is told GOAWAY with the last
 * request it took, and every request up to it is answered (within {@link ServerOptions#SHUTDOWN_TIMEOUT}) before the
 * connection's end, which resets nothing unread; requests after it do not run (SHUTTING_DOWN). The wire protocol is in
 * {@code docs/PROTOCOL.md}.
 */
public final class IpcServer implements AutoCloseable {

    /** The platform workers where there are no virtual threads (JDK 17 to 20). */
    private static final int WORKERS = Math.max(8, 4 * Runtime.getRuntime().availableProcessors());

    private static final Logger LOG = LoggerFactory.getLogger(IpcServer.class);
    private static final AtomicInteger SERVERS = new AtomicInteger();
    /** The most workers the default JDK 17 pool adds for open streams. */
    private static final int MAX_STREAM_WORKERS = 10_000;
    /** How long a connection's thread waits for the next connection before it ends. */
    private static final long SESSION_THREAD_KEEP_ALIVE_SECONDS = 10;

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

    /**
     * What happens on a server, told as it happens: connections past their hello and their end, and each request's
     * outcome. Called on the server's threads, so each method must return quickly; an exception from it is logged and
     * changes nothing. Every method does nothing by default.
     */
    public interface Events {
        /** A connection said its hello and was welcomed. */
        default void connectionOpened(PeerCredentials peer) {}

        /** A welcomed connection ended. */
        default void connectionClosed(PeerCredentials peer) {}

        /**
         * A connection was refused before its WELCOME, and told so where it could be: {@code peer} is who it came from
         * as the transport names it (an address, a socket file's peer), {@code code} what its ERROR said, {@code why}
         * the message. The access policy, a failed TLS or shared-secret handshake, a limit on connections or
         * handshakes, a hello of a version not spoken, a connect during the server's close.
         */
        default void connectionRefused(String peer, ErrorCode code, String why) {}

        /**
         * A request was answered: {@code error} is null for a RESPONSE, else the ERROR's code; {@code nanos} is the
         * time from its arrival to its reply being queued.
         */
        default void requestAnswered(Request request, ErrorCode error, long nanos) {}
    }

    /** Answers one request, knowing who sent it; runs on a worker thread, many at once. */
    @FunctionalInterface
    public interface RequestHandler {
        /** The reply to {@code request}; throwing fails this request only. */
        byte[] handle(Request request) throws Exception;
    }

    /** Answers one request when it is ready, knowing who sent it, without holding a thread meanwhile. */
    @FunctionalInterface
    public interface AsyncRequestHandler {
        /** The reply to {@code request}, later; a failed stage fails this request only. */
        CompletionStage<byte[]> handle(Request request);
    }

    /**
     * Runs around the handler of each request: what users put there in gRPC (authorisation from the request's
     * {@link Request#peer()}, logging, metrics, timing). Interceptors form one chain, in the order they were added to
     * the builder: the first added sees the request first and the answer last. Each runs where the handler would (a
     * worker), and must return quickly or return a stage that completes later.
     *
     * <pre>{@code
     * .intercept((request, next) -> {
     *     if (request.peer().uid().orElse(-1) != 0) {
     *         throw new ApplicationException(1403, "only root may ask");   // the handler does not run
     *     }
     *     long start = System.nanoTime();
     *     return next.handle(request).whenComplete((reply, failure) -> timings.record(System.nanoTime() - start));
     * })
     * }</pre>
     */
    @FunctionalInterface
    public interface Interceptor {
        /**
         * Answers {@code request}: by calling {@code next} (the rest of the chain, then the handler) and returning its
         * stage, changed or not; or without it, returning an answer or failing. What it throws fails this request as a
         * handler's failure does ({@link ApplicationException} with its code, anything else INTERNAL).
         */
        CompletionStage<byte[]> intercept(Request request, AsyncRequestHandler next) throws Exception;
    }

    private enum State {
        NEW,
        STARTING,
        RUNNING,
        CLOSING,
        CLOSED
    }

    private final Endpoint endpoint;
    /** The builder's options with the endpoint's query applied. */
    private final ServerOptions options;
    /** What the connections read of them, on every request and watchdog tick. */
    private final ServerLimits limits;

    private final AsyncRequestHandler handler;
    private final Events events; // null for none
    private final ServerCounters counters = new ServerCounters();
    /** The bytes of requests and replies all connections hold, bounded by maxBufferedBytes. */
    private final MemoryBudget memory;

    private final String name = "ipc-server-" + SERVERS.incrementAndGet();
    private Thread shutdownHook; // guarded by lifecycle
    private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
    private final Set<Thread> sessionThreads = ConcurrentHashMap.newKeySet();
    private final ReentrantLock sessionsLock = new ReentrantLock();
    private final Condition sessionsChanged = sessionsLock.newCondition();
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Held by start() throughout, and by close() to change the state. */
    private final Object lifecycle = new Object();

    private FramedListener listener;
    /** What the sessions share; made by start(), once the endpoint is bound. */
    private ServerSession.Context context;

    private ExecutorService workers;
    /**
     * The connections' threads, kept for reuse a few seconds after their connection ends: a platform thread costs more
     * to start than a connect does, and a daemon whose CLI tools connect once per run pays it for every run. Made by
     * the accept thread at the first connection, with that connection's kind of thread.
     */
    private ExecutorService sessionPool;

    private ScheduledExecutorService watchdog;
    private Thread acceptor;

    private IpcServer(Builder builder) {
        this.endpoint = builder.endpoint;
        this.options = builder.options.toBuilder().query(builder.endpoint).build();
        this.limits = new ServerLimits(options);
        this.handler = builder.chained();
        this.events = builder.events;
        this.memory = new MemoryBudget(limits.maxBuffered);
    }

    /** A builder for a server on {@code endpoint}. */
    public static Builder builder(Endpoint endpoint) {
        return new Builder(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /** The server's counters now: connections, requests, bytes and errors. */
    public ServerStats stats() {
        ServerSession.Context shared = context;
        if (shared == null) {
            return counters.snapshot(0, 0, memory.used());
        }
        long inSharedMemory = shared.places().sessions.stream()
                .filter(session -> session.counted && session.connection.isSharedMemory())
                .count();
        return counters.snapshot(shared.places().established(), inSharedMemory, memory.used());
    }

    /**
     * Closes this server gracefully ({@link #close()}) when the JVM shuts down: on SIGTERM or SIGINT (Ctrl-C), or when
     * the program exits; the socket file is removed and every request taken is answered. Without it a signal ends the
     * JVM without closing, and leaves the socket file to be reclaimed by the next start. Call it before or after
     * {@link #start()}; a signal during the start waits for it, then undoes it. The hook is removed by {@code close()}.
     *
     * @return this server
     */
    public IpcServer closeOnShutdown() {
        synchronized (lifecycle) {
            if (shutdownHook == null && state.get() != State.CLOSED) {
                Thread hook = new Thread(
                        () -> {
                            try {
                                close();
                            } catch (IOException | RuntimeException e) {
                                LOG.warn("closing {} at the JVM's shutdown failed: {}", endpoint, e.toString());
                            }
                        },
                        name + "-shutdown");
                Runtime.getRuntime().addShutdownHook(hook);
                shutdownHook = hook;
            }
        }
        return this;
    }

    /**
     * Binds the endpoint and starts serving on background threads; returns at once.
     *
     * @throws IllegalStateException if started before or closed
     * @throws IOException if the endpoint can't be bound; the message names it and the cause
     */
    public IpcServer start() throws IOException {
        synchronized (lifecycle) { // a close() meanwhile waits for the start, then undoes all of it
            if (!state.compareAndSet(State.NEW, State.STARTING)) {
                throw new IllegalStateException("server on " + endpoint + " was already started, or closed");
            }
            startLocked();
        }
        LOG.info(
                "serving on {} (handlers on {})",
                listener.endpoint(),
                (limits.directHandlers ? "the reading threads, streams on " : "")
                        + (limits.workers > 0
                                ? limits.workers + " platform threads"
                                : Threads.haveVirtualThreads() ? "virtual threads" : WORKERS + " platform threads"));
        return this;
    }

    private void startLocked() throws IOException {
        try {
            listener = Ipc.listenFramed(endpoint.withoutParameters(), ServerSession.connectionOptions(options));
        } catch (IOException | RuntimeException e) {
            state.set(State.CLOSED);
            stopped.countDown();
            throw e;
        }
        try {
            workers = limits.workers == 0
                    ? Threads.workers(name + "-worker", WORKERS)
                    : Executors.newFixedThreadPool(limits.workers, Threads.daemons(name + "-worker"));
            ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, Threads.daemons(name + "-watchdog"));
            timer.setRemoveOnCancelPolicy(true); // a deadline's task leaves with its answered request, payload and all
            watchdog = timer;
            context = new ServerSession.Context(
                    listener.endpoint().toString(),
                    name,
                    limits,
                    memory,
                    counters,
                    new Places(limits, listener.endpoint().toString()),
                    new HandshakeSlots(listener.endpoint(), limits.maxHandshakes, limits.maxHandshakesPerPeer),
                    handler,
                    events,
                    workers,
                    watchdog,
                    this::sessionChanged);
            listener.watchRefusals(context::refused);
            long tick = limits.watchdogTickMillis();
            watchdog.scheduleWithFixedDelay(this::enforceTimeouts, tick, tick, TimeUnit.MILLISECONDS);
            acceptor = new Thread(this::acceptLoop, name + "-accept");
            acceptor.setDaemon(true);
            state.set(State.RUNNING); // before the accept thread, which serves while it is
            acceptor.start();
        } catch (RuntimeException | Error e) {
            // No thread for the server: nothing may stay bound or running.
            Closer closer = new Closer().close(listener);
            if (workers != null) {
                workers.shutdownNow();
            }
            if (watchdog != null) {
                watchdog.shutdownNow();
            }
            state.set(State.CLOSED);
            stopped.countDown();
            Closer.closeQuietly(() -> closer.rethrow(), e);
            throw e;
        }
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
        counters.accepted.increment();
        if (state.get() != State.RUNNING) {
            // Accepted as the server began to close: told so, as a client that came a moment later is by the GOAWAY.
            refuse(connection, ErrorCode.SHUTTING_DOWN, "the server is shutting down");
            return;
        }
        Places places = context.places();
        String peer = HandshakeSlots.peerOf(connection);
        String full = places.full(peer);
        if (full != null && !places.anyIdleFor(peer)) {
            // Refused at once; where an idle connection could give way, that waits for this one's hello: a connection
            // that says nothing must not push anyone out.
            refuse(connection, ErrorCode.TOO_MANY_CONNECTIONS, full);
            return;
        }
        ServerSession session = new ServerSession(connection, peer, context);
        places.sessions.add(session);
        // Until its hello the session counts against maxHandshakes, not maxConnections: silent ones give way.
        session.helloSlot = context.helloSlots().admit(peer, session::pushOut);
        try {
            if (sessionPool == null) {
                sessionPool = new ThreadPoolExecutor(
                        0,
                        Integer.MAX_VALUE,
                        SESSION_THREAD_KEEP_ALIVE_SECONDS,
                        TimeUnit.SECONDS,
                        new SynchronousQueue<>(),
                        connection.threads(name + "-connection"));
            }
            sessionPool.execute(() -> run(session));
        } catch (RuntimeException | OutOfMemoryError e) {
            session.finish();
            refuse(connection, ErrorCode.TOO_MANY_CONNECTIONS, "the server has no thread for another connection");
        }
    }

    /** Serves one connection on a thread of the session pool, which close() interrupts and waits for. */
    private void run(ServerSession session) {
        sessionThreads.add(Thread.currentThread());
        try {
            session.run();
        } finally {
            sessionThreads.remove(Thread.currentThread());
            sessionChanged();
        }
    }

    /** Tells the peer why, then closes gracefully in the background. */
    private void refuse(FramedConnection connection, ErrorCode code, String why) {
        LOG.debug("refused a connection on {}: {}", endpoint, why);
        context.refused(connection.remote(), code, why);
        Refusals.refuse(connection, Codec.error(0, code, why));
    }

    private void enforceTimeouts() {
        long now = System.nanoTime();
        int stalled = 0;
        int streams = 0;
        for (ServerSession session : context.places().sessions) {
            if (session.enforceTimeouts(now)) {
                stalled++;
            }
            streams += session.openStreams();
        }
        replaceStalledWorkers(stalled, limits.workers == 0 ? streams : 0);
    }

    /**
     * On a fixed pool of platform workers (JDK 17 to 20), a reply write that stalls on a peer that reads nothing holds
     * its worker until writeTimeout: the pool grows by one worker for each connection whose write has stalled since the
     * last tick, and shrinks back as they end, so that a few such peers can't starve everyone's handlers. The default
     * pool also grows by one for each stream open (a watch holds its worker for as long as it lasts), so that streams
     * never take every worker; a pool of a {@code workers} count the user chose does not.
     */
    private void replaceStalledWorkers(int stalled, int streams) {
        if (workers instanceof ThreadPoolExecutor) {
            ThreadPoolExecutor pool = (ThreadPoolExecutor) workers;
            int size = (limits.workers == 0 ? WORKERS : limits.workers)
                    + Math.min(stalled, limits.maxConnections)
                    + Math.min(streams, MAX_STREAM_WORKERS);
            if (size > pool.getMaximumPoolSize()) {
                pool.setMaximumPoolSize(size);
                pool.setCorePoolSize(size);
            } else if (size < pool.getCorePoolSize()) {
                pool.setCorePoolSize(size);
                pool.setMaximumPoolSize(size);
            }
        }
    }

    /** Wakes {@link #close()}, which waits for the sessions to settle and to finish. */
    private void sessionChanged() {
        sessionsLock.lock();
        try {
            sessionsChanged.signalAll();
        } finally {
            sessionsLock.unlock();
        }
    }

    /**
     * Shuts down gracefully: releases the endpoint at once, tells each connection GOAWAY naming the last request it
     * took, lets those requests finish within the shutdown timeout and their replies go out, answers later ones
     * SHUTTING_DOWN, ends each connection's output and gives its client a second to close first, then closes what is
     * left. Idempotent; blocks until done.
     */
    @Override
    public void close() throws IOException {
        boolean closedElsewhere = false;
        boolean closedBeforeStart = false;
        synchronized (lifecycle) { // waits for a start() in progress (a signal during start, say)
            if (state.compareAndSet(State.NEW, State.CLOSED)) {
                stopped.countDown();
                closedBeforeStart = true;
            } else if (!state.compareAndSet(State.RUNNING, State.CLOSING)) {
                closedElsewhere = true;
            }
        }
        if (closedBeforeStart) {
            removeShutdownHook();
            return;
        }
        if (closedElsewhere) {
            awaitStopped();
            return;
        }
        removeShutdownHook();
        Closer closer = new Closer();
        closer.close(listener);
        // Once the accept thread has stopped, the sessions are all there will be (admit closes latecomers).
        closer.run(() -> acceptor.join(10_000));
        Set<ServerSession> sessions = context.places().sessions;
        for (ServerSession session : sessions) {
            session.goAway();
        }
        // Each session settles once every request it took is answered and its output is shut; then its client has a
        // moment to read the rest and close its side, so that the close resets nothing unread.
        long start = System.nanoTime();
        boolean drained = awaitSessions(ServerSession::settled, limits.shutdownTimeout);
        Duration left = limits.shutdownTimeout.minusNanos(System.nanoTime() - start);
        awaitSessions(session -> false, left.compareTo(Refusals.LINGER) < 0 ? left : Refusals.LINGER);
        for (ServerSession session : sessions) {
            session.connection.abort();
        }
        sessionThreads.forEach(Thread::interrupt); // as the executors' shutdownNow did
        closer.run(this::joinSessions);
        closer.run(() -> shutDown(workers));
        closer.run(() -> shutDown(watchdog));
        state.set(State.CLOSED);
        stopped.countDown();
        LOG.info(
                "stopped serving on {}{}",
                listener.endpoint(),
                drained ? "" : " (requests still in flight were cut off)");
        closer.rethrow();
    }

    private void removeShutdownHook() {
        Thread hook;
        synchronized (lifecycle) {
            hook = shutdownHook;
            shutdownHook = null;
        }
        if (hook != null && hook != Thread.currentThread()) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down already: the hook runs, and finds the server closed
            }
        }
    }

    private void awaitStopped() {
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until every session is {@code done} or over, for {@code timeout} at most; whether they all are. */
    private boolean awaitSessions(Predicate<ServerSession> done, Duration timeout) {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        sessionsLock.lock();
        try {
            while (true) {
                boolean all = true;
                for (ServerSession session : context.places().sessions) {
                    all &= done.test(session);
                }
                long left = deadline - System.nanoTime();
                if (all || left <= 0) {
                    return all;
                }
                sessionsChanged.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            sessionsLock.unlock();
        }
    }

    /**
     * Waits up to 10 s in all for the connections' threads to leave their sessions, which they do once their
     * connections are closed, then ends the threads.
     */
    private void joinSessions() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        sessionsLock.lock();
        try {
            while (!sessionThreads.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    LOG.warn("server threads did not stop within 10 s");
                    return;
                }
                sessionsChanged.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
        } finally {
            sessionsLock.unlock();
        }
        if (sessionPool != null) {
            shutDown(sessionPool);
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

    /** Builds an {@link IpcServer}; not thread-safe. */
    public static final class Builder {
        private final Endpoint endpoint;
        private ServerOptions options = ServerOptions.defaults();
        private AsyncRequestHandler handler;
        private Events events;
        private final List<Interceptor> interceptors = new ArrayList<>();

        private Builder(Endpoint endpoint) {
            this.endpoint = endpoint;
        }

        /** The options; those in the endpoint's query override them. */
        public Builder options(ServerOptions options) {
            this.options = Objects.requireNonNull(options, "options");
            return this;
        }

        /** The handler that answers each request's bytes on a worker thread. */
        public Builder handler(Handler handler) {
            Objects.requireNonNull(handler, "handler");
            return requestHandler(request -> handler.handle(request.payload()));
        }

        /** A handler that answers later, through a {@link CompletionStage}. */
        public Builder asyncHandler(AsyncHandler handler) {
            Objects.requireNonNull(handler, "handler");
            return asyncRequestHandler(request -> handler.handle(request.payload()));
        }

        /** The handler that answers each {@link Request} (payload, caller, id) on a worker thread. */
        public Builder requestHandler(RequestHandler handler) {
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

        /** A listener told of connections and requests as they happen ({@link Events}); none by default. */
        public Builder events(Events events) {
            this.events = Objects.requireNonNull(events, "events");
            return this;
        }

        /** A handler that answers each {@link Request} later, through a {@link CompletionStage}. */
        public Builder asyncRequestHandler(AsyncRequestHandler handler) {
            this.handler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /**
         * Adds {@code interceptor} to the chain that runs around the handler ({@link Interceptor}): after those added
         * before it, before those added after it.
         */
        public Builder intercept(Interceptor interceptor) {
            interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
            return this;
        }

        /** The handler with the interceptors around it, the first added outermost. */
        private AsyncRequestHandler chained() {
            AsyncRequestHandler chain = handler;
            for (int i = interceptors.size() - 1; i >= 0; i--) {
                Interceptor interceptor = interceptors.get(i);
                AsyncRequestHandler next = chain;
                chain = request -> {
                    try {
                        return interceptor.intercept(request, next);
                    } catch (Exception e) {
                        return CompletableFuture.failedFuture(e);
                    }
                };
            }
            return chain;
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
