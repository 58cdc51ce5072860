package dev.ipc;

import dev.ipc.internal.AcceptLoop;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FrameTooLargeException;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.HandshakeSlots;
import dev.ipc.internal.MemoryBudget;
import dev.ipc.internal.OverBudgetException;
import dev.ipc.internal.Protocol;
import dev.ipc.internal.Refusals;
import dev.ipc.internal.Threads;
import java.io.EOFException;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
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
    /** How many refusals (ERROR frames of requests not taken) may wait to be written before the reader waits. */
    private static final int MAX_QUEUED_REFUSALS = 64;

    /** How long a connection has been silent, nothing in flight, before it may give way to a newer one. */
    private static final long IDLE_BEFORE_GIVING_WAY_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** How long a timed-out session's ERROR may take to go out before the watchdog closes the connection anyway. */
    private static final long TIMEOUT_ERROR_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);
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
    private final Limits limits;

    private final AsyncRequestHandler handler;
    private final Events events; // null for none

    // Counters for stats(): cheap to bump on every request.
    private final LongAdder accepted = new LongAdder();
    private final LongAdder refused = new LongAdder();
    private final LongAdder requests = new LongAdder();
    private final LongAdder inFlight = new LongAdder();
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder[] errors = newAdders(ErrorCode.values().length);
    /** The bytes of requests and replies all connections hold, bounded by maxBufferedBytes. */
    private final MemoryBudget memory;

    private final String name = "ipc-server-" + SERVERS.incrementAndGet();
    private Thread shutdownHook; // guarded by lifecycle
    private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final Set<Thread> sessionThreads = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicInteger> perPeer = new ConcurrentHashMap<>(); // past the hello, per peer
    private final Map<String, AtomicInteger> streamsPerPeer = new ConcurrentHashMap<>(); // in flight, per peer
    /** Guards taking and giving back places in maxConnections and maxConnectionsPerPeer, and choosing who gives way. */
    private final Object places = new Object();

    private long gaveWay; // idle connections that gave way since the last warning; guarded by places
    private long gaveWayWarned = System.nanoTime() - TimeUnit.MINUTES.toNanos(2); // guarded by places
    private final AtomicInteger established = new AtomicInteger(); // sessions past the hello
    private HandshakeSlots helloSlots; // sessions before it
    private final ReentrantLock sessionsLock = new ReentrantLock();
    private final Condition sessionsChanged = sessionsLock.newCondition();
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Held by start() throughout, and by close() to change the state. */
    private final Object lifecycle = new Object();

    private FramedListener listener;
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
        this.limits = new Limits(options);
        this.handler = builder.handler;
        this.events = builder.events;
        this.memory = new MemoryBudget(limits.maxBuffered);
    }

    /** A builder for a server on {@code endpoint}. */
    public static Builder builder(Endpoint endpoint) {
        return new Builder(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /** The server's counters now: connections, requests, bytes and errors. */
    public ServerStats stats() {
        Map<ErrorCode, Long> byCode = new EnumMap<>(ErrorCode.class);
        for (ErrorCode code : ErrorCode.values()) {
            long count = errors[code.ordinal()].sum();
            if (count > 0) {
                byCode.put(code, count);
            }
        }
        return new ServerStats(
                established.get(),
                accepted.sum(),
                refused.sum(),
                requests.sum(),
                inFlight.sum(),
                bytesIn.sum(),
                bytesOut.sum(),
                memory.used(),
                byCode);
    }

    private static LongAdder[] newAdders(int count) {
        LongAdder[] adders = new LongAdder[count];
        for (int i = 0; i < count; i++) {
            adders[i] = new LongAdder();
        }
        return adders;
    }

    private void countError(byte[] frame) {
        ErrorCode code = Protocol.errorCodeIfError(frame);
        if (code != null) {
            errors[code.ordinal()].increment();
        }
    }

    /** Tells the events listener, if there is one; what it throws is logged and goes no further. */
    private void tell(Consumer<Events> event) {
        if (events != null) {
            try {
                event.accept(events);
            } catch (RuntimeException e) {
                LOG.warn("the events listener of {} failed", endpoint, e);
            }
        }
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
        // The runtime reads with its own timeouts; its frames carry a type and an id beside the payload.
        ConnectionOptions connectionOptions = ConnectionOptions.takenFrom(options)
                .set(ConnectionOptions.MAX_FRAME_SIZE, Protocol.frameLimit(limits.maxPayload, Protocol.VERSION))
                .build();
        try {
            listener = Ipc.listenFramed(endpoint.withoutParameters(), connectionOptions);
            helloSlots = new HandshakeSlots(listener.endpoint(), limits.maxHandshakes, limits.maxHandshakesPerPeer);
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
            long tick = watchdogTick();
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
        accepted.increment();
        if (state.get() != State.RUNNING) {
            Closer.closeQuietly(connection, null); // accepted as the server began to close
            return;
        }
        String peer = HandshakeSlots.peerOf(connection);
        String full = full(peer);
        if (full != null && !anyIdleFor(peer)) {
            // Refused at once; where an idle connection could give way, that waits for this one's hello: a connection
            // that says nothing must not push anyone out.
            refuse(connection, ErrorCode.TOO_MANY_CONNECTIONS, full);
            return;
        }
        Session session = new Session(connection, peer);
        sessions.add(session);
        // Until its hello the session counts against maxHandshakes, not maxConnections: silent ones give way.
        session.helloSlot = helloSlots.admit(peer, session::pushOut);
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
            sessionPool.execute(session::run);
        } catch (RuntimeException | OutOfMemoryError e) {
            session.finish();
            refuse(connection, ErrorCode.TOO_MANY_CONNECTIONS, "the server has no thread for another connection");
        }
    }

    /** Why a connection of {@code peer} would be over a limit now; null if it is not. */
    private String full(String peer) {
        if (established.get() >= limits.maxConnections) {
            return "the server holds its maximum of " + limits.maxConnections + " connections";
        }
        if (overItsOwn(peer)) {
            return "peer " + peer + " holds its maximum of " + limits.maxConnectionsPerPeer + " connections";
        }
        return null;
    }

    private boolean overItsOwn(String peer) {
        if (limits.maxConnectionsPerPeer == 0) {
            return false;
        }
        AtomicInteger count = perPeer.get(peer);
        return count != null && count.get() >= limits.maxConnectionsPerPeer;
    }

    /**
     * Makes a place for a connection of {@code peer} that finished its hello: where a limit is reached, the connection
     * idle the longest gives way (of this peer, past its own limit; of the peer holding the most, past the total), so
     * that a crowd of silent connections can't keep a newcomer out. Why not, if no connection is idle; the caller holds
     * {@code places}.
     */
    private String makeRoom(String peer) {
        String full = full(peer);
        if (full == null) {
            return null;
        }
        boolean ownLimit = established.get() < limits.maxConnections;
        Session idle = longestIdle(ownLimit ? peer : null);
        if (idle == null) {
            return full;
        }
        long idleMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - idle.lastActivity);
        String why = "this connection gave way to a newer one: it was idle the longest (" + idleMillis + " ms) of "
                + (ownLimit
                        ? idle.peer + ", which holds its maximum of " + limits.maxConnectionsPerPeer
                                + " connections (maxConnectionsPerPeer)"
                        : "the peer holding the most connections, at the server's maximum of " + limits.maxConnections
                                + " (maxConnections)");
        LOG.debug("{} on {}: {}", idle.connection, endpoint, why);
        idle.giveWay(why);
        gaveWay++;
        long now = System.nanoTime();
        if (now - gaveWayWarned > TimeUnit.MINUTES.toNanos(1)) {
            LOG.warn(
                    "{} idle connections on {} gave way to newer ones, the last for {}: {}; raise maxConnections or "
                            + "maxConnectionsPerPeer if so many clients are meant to stay connected",
                    gaveWay,
                    endpoint,
                    peer,
                    full);
            gaveWay = 0;
            gaveWayWarned = now;
        }
        return full(peer); // a connection of this peer may still be over both limits
    }

    /**
     * The session idle the longest of {@code peer}, or (null) of the peer holding the most connections among those with
     * an idle one; null if none is idle. The caller holds {@code places}.
     */
    private Session longestIdle(String peer) {
        long now = System.nanoTime();
        Session chosen = null;
        int chosenWeight = -1;
        for (Session session : sessions) {
            if ((peer != null && !peer.equals(session.peer)) || !session.idleSince(now)) {
                continue;
            }
            AtomicInteger held = perPeer.get(session.peer);
            int weight = peer != null || held == null ? 0 : held.get();
            if (weight > chosenWeight || (weight == chosenWeight && session.lastActivity - chosen.lastActivity < 0)) {
                chosen = session;
                chosenWeight = weight;
            }
        }
        return chosen;
    }

    /** Whether a connection of {@code peer} past a limit could have a place once it says its hello. */
    private boolean anyIdleFor(String peer) {
        synchronized (places) {
            return longestIdle(established.get() < limits.maxConnections ? peer : null) != null;
        }
    }

    /** Tells the peer why, then closes gracefully in the background. */
    private void refuse(FramedConnection connection, ErrorCode code, String why) {
        LOG.debug("refused a connection on {}: {}", endpoint, why);
        refused.increment();
        errors[code.ordinal()].increment();
        Refusals.refuse(connection, Protocol.error(0, code, why));
    }

    private void enforceTimeouts() {
        long now = System.nanoTime();
        int stalled = 0;
        int streams = 0;
        for (Session session : sessions) {
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
        for (Session session : sessions) {
            session.goAway();
        }
        // Each session settles once every request it took is answered and its output is shut; then its client has a
        // moment to read the rest and close its side, so that the close resets nothing unread.
        long start = System.nanoTime();
        boolean drained = awaitSessions(Session::settled, limits.shutdownTimeout);
        Duration left = limits.shutdownTimeout.minusNanos(System.nanoTime() - start);
        awaitSessions(session -> false, left.compareTo(Refusals.LINGER) < 0 ? left : Refusals.LINGER);
        for (Session session : sessions) {
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
    private boolean awaitSessions(Predicate<Session> done, Duration timeout) {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        sessionsLock.lock();
        try {
            while (true) {
                boolean all = true;
                for (Session session : sessions) {
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

    /** The limits and timeouts the connections read, taken from the options once. */
    private static final class Limits {
        final int maxPayload;
        final int maxInFlight;
        final int maxConnections;
        final int maxConnectionsPerPeer;
        final int maxStreamsPerConnection;
        final int maxStreamsPerPeer;
        final int maxHandshakes;
        final int workers;
        final boolean directHandlers;
        final int maxHandshakesPerPeer;
        final Duration handshakeTimeout;
        final Duration idleTimeout;
        final Duration frameTimeout;
        final Duration writeTimeout;
        final Duration shutdownTimeout;
        final long maxBuffered;

        Limits(ServerOptions options) {
            int buffered = options.get(ServerOptions.MAX_BUFFERED_BYTES);
            maxBuffered = buffered == 0 ? Runtime.getRuntime().maxMemory() / 4 : buffered;
            maxPayload = options.get(ConnectionOptions.MAX_FRAME_SIZE);
            maxInFlight = options.get(ServerOptions.MAX_IN_FLIGHT);
            maxConnections = options.get(ServerOptions.MAX_CONNECTIONS);
            maxConnectionsPerPeer = options.get(ServerOptions.MAX_CONNECTIONS_PER_PEER);
            maxStreamsPerConnection = options.get(ServerOptions.MAX_STREAMS_PER_CONNECTION);
            maxStreamsPerPeer = options.get(ServerOptions.MAX_STREAMS_PER_PEER);
            maxHandshakes = options.get(ConnectionOptions.MAX_HANDSHAKES);
            workers = options.get(ServerOptions.WORKERS);
            directHandlers = options.get(ServerOptions.DIRECT_HANDLERS);
            maxHandshakesPerPeer = options.get(ConnectionOptions.MAX_HANDSHAKES_PER_PEER);
            handshakeTimeout = options.get(ConnectionOptions.HANDSHAKE_TIMEOUT);
            idleTimeout = options.get(ServerOptions.IDLE_TIMEOUT);
            frameTimeout = options.get(ServerOptions.FRAME_TIMEOUT);
            writeTimeout = options.get(ServerOptions.WRITE_TIMEOUT);
            shutdownTimeout = options.get(ServerOptions.SHUTDOWN_TIMEOUT);
        }
    }

    /**
     * A frame waiting in a session's outbox, whether writing it answers a request taken, and the bytes of the memory
     * budget to release once it is written (its own, and its request's).
     */
    private record Outgoing(byte[] frame, boolean answers, long release) {}

    /**
     * One connection: its handshake, its requests, its timeouts, and its end.
     *
     * <p>Every frame the server sends after the hello goes through the outbox, in the order it was queued, so that the
     * order the protocol promises holds: replies before the ERROR that ends a connection, the GOAWAY before the end of
     * the output, and nothing after it. The output is shut (a FIN, or TLS's close_notify) once the session is ending or
     * draining and every request taken is answered and written.
     */
    private final class Session {
        final FramedConnection connection;
        private final String peer;
        private final long acceptedAt = System.nanoTime();
        private volatile long lastActivity = System.nanoTime();
        private final AtomicBoolean finished = new AtomicBoolean();
        HandshakeSlots.Slot helloSlot; // set before the session's thread starts
        private volatile boolean pushedOut; // before its hello, for newer connections past maxHandshakes
        private volatile boolean
                counted; // against maxConnections (and its peer's); only the session's thread and finish()

        private final Object lock = new Object();
        // Guarded by lock.
        // The version spoken, once the WELCOME is queued; 0 before. The session's thread, which sets it, also reads it
        // without the lock.
        private int version;
        private volatile boolean draining; // the GOAWAY is decided: no request is taken any more (read unlocked too)
        private volatile boolean ending; // the session ends once what is queued is written (read unlocked too)
        private volatile boolean inputEnded; // the client ended its side: its streams are cancelled
        private boolean outputShut; // nothing more is sent
        private int lastTaken; // the id of the last request taken, in the order they arrived; 0 for none
        private final Map<Integer, Request> running = new HashMap<>(); // taken, their reply not yet queued
        private int unanswered; // requests taken whose reply is not yet written; bounded by maxInFlight
        private int queued; // frames in the outbox or being written
        private int streams; // requests taken that may answer with a stream, their reply not yet queued

        private final ConcurrentLinkedQueue<Outgoing> outbox = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean writing = new AtomicBoolean();

        /**
         * How many requests that may answer with a stream are in flight (the pool of a JDK without virtual threads
         * grows by them at the next tick, whether or not their handlers have opened the stream yet).
         */
        int openStreams() {
            synchronized (lock) {
                return streams;
            }
        }

        /** Why a request that may answer with a stream is refused, or null; under the lock. */
        private byte[] streamRefusal(int id) {
            String why = null;
            if (limits.maxStreamsPerConnection > 0 && streams >= limits.maxStreamsPerConnection) {
                why = "this connection has its maximum of " + limits.maxStreamsPerConnection + " requests that may "
                        + "answer with a stream in flight (maxStreamsPerConnection)";
            } else if (limits.maxStreamsPerPeer > 0) {
                AtomicInteger held = streamsPerPeer.get(peer);
                if (held != null && held.get() >= limits.maxStreamsPerPeer) {
                    why = peer + " has its maximum of " + limits.maxStreamsPerPeer + " requests that may answer with a "
                            + "stream in flight, over all its connections (maxStreamsPerPeer)";
                }
            }
            return why == null ? null : Protocol.error(id, ErrorCode.TOO_MANY_REQUESTS, why);
        }

        /** Cancels the requests that answer with a stream, for {@code why}. */
        private void cancelStreams(String why) {
            List<Request> streams = new ArrayList<>();
            synchronized (lock) {
                for (Request request : running.values()) {
                    if (request.streamOpened()) {
                        streams.add(request);
                    }
                }
            }
            streams.forEach(request -> request.cancel(why));
        }

        /** Where the requests' streams queue their messages. */
        private final Request.Sink sink = new Request.Sink() {
            @Override
            public void stream(Request request, byte[] message) {
                streamMessage(request, message);
            }

            @Override
            public void flush() {
                Session.this.flush();
            }

            @Override
            public int maxPayload() {
                return limits.maxPayload;
            }

            @Override
            public ScheduledExecutorService timer() {
                return watchdog;
            }
        };

        Session(FramedConnection connection, String peer) {
            this.connection = connection;
            this.peer = peer;
        }

        /**
         * Queues one message of {@code request}'s stream once the outbox has room (as for refusals: no more frames wait
         * than replies in flight and {@link #MAX_QUEUED_REFUSALS}) and the memory budget takes it. A stream opened
         * while the server shuts down is cancelled: it would never end by itself.
         */
        private void streamMessage(Request request, byte[] message) {
            byte[] frame = Protocol.call(Protocol.STREAM, request.id(), message);
            if (inputEnded) {
                request.cancel("its client ended its side of the connection");
            }
            boolean shuttingDown = false;
            synchronized (lock) {
                while (true) {
                    if (running.get(request.id()) != request) {
                        throw new IllegalStateException(
                                "request " + request.id() + " is already answered: its stream is over");
                    }
                    String why = request.cancelledBecause();
                    if (why != null) {
                        throw new CancellationException("request " + request.id() + " was cancelled: " + why);
                    }
                    if (draining) {
                        shuttingDown = true;
                        break;
                    }
                    if (outputShut || !connection.isOpen()) {
                        request.cancel("its connection ended");
                        continue;
                    }
                    if (queued <= unanswered + MAX_QUEUED_REFUSALS && memory.tryReserve(frame.length)) {
                        queue(frame, false, frame.length);
                        return;
                    }
                    try {
                        lock.wait(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new CancellationException("interrupted while waiting to send on request " + request.id());
                    }
                }
            }
            if (shuttingDown) {
                request.cancel("the server is shutting down");
                throw new CancellationException("request " + request.id() + " was cancelled: the server is shutting "
                        + "down, and a stream would not end by itself");
            }
        }

        void run() {
            sessionThreads.add(Thread.currentThread());
            try {
                int asked = Protocol.readHello(connection.input());
                if (!helloSlot.release()) {
                    throw new EOFException("pushed out"); // pushOut() has shut the input: answered below
                }
                String full = count();
                if (full != null) {
                    LOG.debug("refused a connection on {}: {}", endpoint, full);
                    refused.increment();
                    errors[ErrorCode.TOO_MANY_CONNECTIONS.ordinal()].increment();
                    connection.finish(Protocol.error(0, ErrorCode.TOO_MANY_CONNECTIONS, full), Refusals.LINGER);
                    return;
                }
                tell(listener -> listener.connectionOpened(connection.peer()));
                int spoken = Protocol.negotiate(asked);
                if (spoken < 0) {
                    connection.finish(
                            Protocol.error(
                                    0,
                                    ErrorCode.UNSUPPORTED_VERSION,
                                    "protocol version " + asked + " is not spoken here; this server speaks versions "
                                            + Protocol.OLDEST_VERSION + " to " + Protocol.VERSION),
                            Refusals.LINGER);
                    return;
                }
                connection.answerViolations();
                connection.budget(memory);
                connection.limitIncoming(Protocol.frameLimit(limits.maxPayload, spoken));
                synchronized (lock) {
                    version = spoken;
                    queue(Protocol.welcome(spoken, limits.maxPayload, limits.maxInFlight), false, 0);
                    if (draining) {
                        // Closing began before the hello: this client learns it at once, and nothing was taken.
                        queue(Protocol.goaway(spoken, 0, "the server is shutting down"), false, 0);
                    }
                }
                flush();
                lastActivity = System.nanoTime();
                for (byte[] frame = next(); frame != null; frame = next()) {
                    lastActivity = System.nanoTime();
                    bytesIn.add(frame.length + 4L);
                    byte type;
                    try {
                        type = Protocol.type(frame);
                        if (type == Protocol.REQUEST) {
                            dispatch(Protocol.id(frame), frame);
                            continue;
                        }
                    } catch (ProtocolException e) {
                        memory.release(frame.length); // not taken
                        throw e;
                    }
                    // Any other frame is done with once read, refused or not: released here, and only here.
                    memory.release(frame.length);
                    if (type == Protocol.CANCEL && version >= Protocol.STREAMS && frame.length == 5) {
                        Request cancelled = taken(Protocol.id(frame));
                        if (cancelled != null) {
                            cancelled.cancel("its client cancelled it");
                        }
                    } else if (type == Protocol.CREDIT && version >= Protocol.STREAMS && frame.length == 9) {
                        Request granted = taken(Protocol.id(frame));
                        if (granted != null) {
                            granted.grant(Protocol.creditCount(frame));
                        }
                    } else {
                        throw notARequest("type " + type + " (" + frame.length + " bytes)");
                    }
                }
                // The peer's end of stream: its replies still go out, then the close. Its streams end now: it can send
                // no CREDIT or CANCEL any more, so nothing would ever end them.
                inputEnded = true;
                cancelStreams("its client ended its side of the connection");
                end(null);
            } catch (FrameTooLargeException e) {
                // The limit the client knows is the WELCOME's, on payloads; a REQUEST adds its header (5 or 13 bytes).
                int spoken = spokenVersion();
                String why = "a frame of " + e.declared() + " bytes is over the largest this server takes, "
                        + Protocol.frameLimit(limits.maxPayload, spoken) + " (a payload of at most maxFrameSize "
                        + limits.maxPayload + " bytes, plus " + Protocol.requestOverhead(spoken) + ")";
                LOG.info("closing {}: {}", connection, why);
                endOrRefuse(Protocol.error(0, ErrorCode.FRAME_TOO_LARGE, why));
            } catch (ProtocolException e) {
                LOG.info("closing {}: {}", connection, e.getMessage());
                endOrRefuse(Protocol.error(0, ErrorCode.PROTOCOL_ERROR, e.getMessage()));
            } catch (IOException e) {
                if (pushedOut) {
                    connection.finish(
                            Protocol.error(0, ErrorCode.TOO_MANY_CONNECTIONS, helloSlots.pushedOutMessage()),
                            Duration.ZERO);
                } else {
                    LOG.debug("connection {} ended: {}", connection, e.toString());
                }
            } finally {
                connection.abort();
                finish();
                sessionThreads.remove(Thread.currentThread());
                sessionChanged();
            }
        }

        /**
         * Counts the session, past its hello, against maxConnections and its peer's, an idle connection giving way if
         * one is over; why not, if no place could be had.
         */
        private String count() {
            synchronized (places) {
                String full = makeRoom(peer);
                if (full != null) {
                    return full; // nothing idle, and connections that finished their hello meanwhile took the places
                }
                established.incrementAndGet();
                perPeer.computeIfAbsent(peer, key -> new AtomicInteger()).incrementAndGet();
                counted = true;
                // Silent from its HELLO on, not from its accept: one that waited long for a place is not idle yet.
                lastActivity = System.nanoTime();
                return null;
            }
        }

        /** Ends a session that has not sent its hello, for a newer one; never blocks (the accept thread calls it). */
        void pushOut() {
            pushedOut = true;
            try {
                connection.shutdownInput(); // the session's thread, reading the hello, sees the end and says why
            } catch (IOException | RuntimeException e) {
                Closer.closeQuietly(connection, e);
            }
        }

        /**
         * The next frame, or null at the end of the stream; a request dropped for want of memory is answered
         * TOO_MANY_REQUESTS here, and reading goes on.
         */
        private byte[] next() throws IOException {
            while (true) {
                try {
                    return connection.receive();
                } catch (OverBudgetException e) {
                    byte[] head = e.head();
                    if (head.length < Protocol.OVERHEAD || head[0] != Protocol.REQUEST) {
                        throw notARequest(
                                "a frame of " + e.length() + " bytes of type " + (head.length == 0 ? "none" : head[0]));
                    }
                    int id = ByteBuffer.wrap(head, 1, 4).getInt();
                    if (id == 0) {
                        throw idZero();
                    }
                    LOG.debug("dropped a request of {} bytes on {}: {}", e.length(), connection, e.getMessage());
                    synchronized (lock) {
                        queue(
                                Protocol.error(
                                        id,
                                        ErrorCode.TOO_MANY_REQUESTS,
                                        "the server holds its most bytes of requests and replies (maxBufferedBytes "
                                                + memory.limit() + "): this request of " + (e.length() - 5)
                                                + " bytes was dropped and did not run; send it again later"),
                                false,
                                0);
                    }
                    flush();
                    awaitRoomForRefusals();
                }
            }
        }

        private ProtocolException notARequest(String what) {
            return new ProtocolException(
                    spokenVersion() >= Protocol.STREAMS
                            ? "a version 3 client sends only REQUEST (type 3, at least 13 bytes), CANCEL (type 11, 5 "
                                    + "bytes) and CREDIT (type 13, 9 bytes) frames after the hello, not " + what
                            : "a client sends only REQUEST frames (type 3) after the hello, not " + what);
        }

        private int spokenVersion() {
            synchronized (lock) {
                return version == 0 ? Protocol.VERSION : version;
            }
        }

        /** The request taken with {@code id} and not yet answered, or null. */
        private Request taken(int id) {
            synchronized (lock) {
                return running.get(id);
            }
        }

        private ProtocolException idZero() {
            return new ProtocolException("request id 0 is reserved for errors about the connection");
        }

        /** Takes a request, or answers at once why not. */
        private void dispatch(int id, byte[] frame) throws IOException {
            byte[] refusal = null;
            if (id == 0) {
                throw idZero();
            }
            // Made outside the lock (the payload is copied), by the thread that set the version.
            Request request;
            if (version >= Protocol.STREAMS) {
                if (frame.length < Protocol.REQUEST_OVERHEAD_V3) {
                    throw new ProtocolException("a version 3 REQUEST is at least 13 bytes (type, id, timeout, window), "
                            + "not " + frame.length);
                }
                request = new Request(
                        Protocol.requestPayload(frame, version),
                        connection.peer(),
                        id,
                        Protocol.requestTimeout(frame),
                        Protocol.requestWindow(frame),
                        sink);
            } else {
                request = new Request(Protocol.payload(frame), connection.peer(), id);
            }
            synchronized (lock) {
                if (running.containsKey(id)) {
                    throw new ProtocolException("request id " + Integer.toUnsignedString(id) + " is already in "
                            + "flight on this connection; an id is reused only after its reply");
                }
                if (draining) {
                    refusal = Protocol.error(
                            id,
                            ErrorCode.SHUTTING_DOWN,
                            "the server is shutting down; this request "
                                    + "did not run (the GOAWAY named the last one that does)");
                } else if (unanswered >= limits.maxInFlight) {
                    refusal = Protocol.error(
                            id,
                            ErrorCode.TOO_MANY_REQUESTS,
                            "this connection has its maximum of " + limits.maxInFlight + " requests in flight");
                } else if (request.acceptsStream() && (refusal = streamRefusal(id)) != null) {
                    // refused: each request that may answer with a stream holds a worker for as long as it streams
                } else {
                    if (request.acceptsStream()) {
                        streams++;
                        streamsPerPeer
                                .computeIfAbsent(peer, key -> new AtomicInteger())
                                .incrementAndGet();
                    }
                    running.put(id, request);
                    unanswered++;
                    lastTaken = id;
                    requests.increment();
                    inFlight.increment();
                }
                if (refusal != null) {
                    queue(refusal, false, 0);
                }
            }
            if (refusal != null) {
                memory.release(frame.length);
                flush();
                awaitRoomForRefusals();
                return;
            }
            long requestBytes = frame.length;
            long arrived = events == null ? 0 : System.nanoTime();
            if (limits.directHandlers && !request.acceptsStream()) {
                handle(request, requestBytes, arrived); // no hand-off: this thread reads again once it returns
                return;
            }
            try {
                workers.execute(() -> handle(request, requestBytes, arrived));
            } catch (RuntimeException e) {
                reply(request, requestBytes, null, e, arrived);
            }
        }

        /** Runs the handler on this thread, and queues its reply once its stage completes. */
        private void handle(Request request, long requestBytes, long arrived) {
            if (request.isCancelled()) {
                // Cancelled, or past its deadline, while it waited for a worker: answered CANCELLED, never run.
                reply(request, requestBytes, null, null, arrived);
                return;
            }
            CompletionStage<byte[]> reply;
            try {
                reply = handler.handle(request);
            } catch (Throwable t) {
                reply = CompletableFuture.failedFuture(t);
            }
            CompletionStage<byte[]> answered = reply == null ? CompletableFuture.completedFuture(null) : reply;
            answered.whenComplete((answer, failure) -> reply(request, requestBytes, answer, failure, arrived));
        }

        /** Queues a request's reply; its bytes, and the request's ({@code requestBytes}), count until it is written. */
        private void reply(Request request, long requestBytes, byte[] answer, Throwable failure, long arrived) {
            int id = request.id();
            // Its stream, if any, takes no more messages: this frame is its last.
            String cancelled = request.answered();
            byte[] frame;
            try {
                if (cancelled != null) {
                    LOG.debug(
                            "request {} on {} was cancelled ({}); its {} is dropped",
                            id,
                            connection,
                            cancelled,
                            failure == null ? "reply" : "failure " + failure);
                    frame = Protocol.error(id, ErrorCode.CANCELLED, "the request was cancelled: " + cancelled);
                } else if (answer == null && failure == null && request.streamOpened()) {
                    frame = Protocol.call(Protocol.RESPONSE, id, new byte[0]); // the end of the stream
                } else {
                    frame = replyFrame(id, answer, failure);
                }
            } catch (RuntimeException | Error e) {
                frame = internal(id, "the reply could not be made", e);
            }
            memory.add(frame.length);
            synchronized (lock) {
                running.remove(id); // before the write: a client may reuse the id as soon as it reads the reply
                if (request.acceptsStream()) {
                    streams--;
                    streamsPerPeer.computeIfPresent(peer, (key, count) -> count.decrementAndGet() == 0 ? null : count);
                }
                queue(frame, true, requestBytes + frame.length);
            }
            inFlight.decrement();
            flush();
            if (events != null) {
                ErrorCode error = Protocol.errorCodeIfError(frame);
                long nanos = System.nanoTime() - arrived;
                tell(listener -> listener.requestAnswered(request, error, nanos));
            }
        }

        private byte[] replyFrame(int id, byte[] answer, Throwable failure) {
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause()
                        : failure;
                if (cause instanceof ApplicationException) {
                    ApplicationException error = (ApplicationException) cause;
                    return Protocol.error(id, error.applicationCode(), error.remoteMessage());
                }
                return internal(id, "the handler failed", cause);
            }
            if (answer == null) {
                return internal(id, "the handler returned no reply (null)", null);
            }
            if (answer.length > limits.maxPayload) {
                return Protocol.error(
                        id,
                        ErrorCode.FRAME_TOO_LARGE,
                        "the reply of " + answer.length + " bytes is over maxFrameSize " + limits.maxPayload);
            }
            return Protocol.call(Protocol.RESPONSE, id, answer);
        }

        /**
         * An INTERNAL error for request {@code id}: the caller learns only an incident id; the log has it with the
         * cause and its stack trace, at WARN, since a handler that fails unexpectedly is a bug to look at.
         */
        private byte[] internal(int id, String what, Throwable cause) {
            String incident = String.format("%08x", ThreadLocalRandom.current().nextInt());
            LOG.warn(
                    "{} on request {} from {} on {} (incident {})",
                    what,
                    id,
                    peer == null ? connection.remote() : peer,
                    endpoint,
                    incident,
                    cause);
            return Protocol.error(
                    id,
                    ErrorCode.INTERNAL,
                    "the server failed on this request; its log names the cause as incident " + incident);
        }

        /**
         * Holds the reader while more frames wait to be written than the replies in flight and
         * {@link #MAX_QUEUED_REFUSALS}: a client that sends without reading its answers stops being read, rather than
         * filling the server's memory with refusals. The write timeout ends a client that never reads again.
         */
        private void awaitRoomForRefusals() {
            synchronized (lock) {
                while (queued > unanswered + MAX_QUEUED_REFUSALS && connection.isOpen() && !outputShut) {
                    try {
                        lock.wait(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }

        /**
         * Queues a frame behind those queued before it; the caller holds the lock. Dropped once the output is shut.
         *
         * @param release the bytes of the memory budget to release once it is written (or dropped)
         */
        private void queue(byte[] frame, boolean answers, long release) {
            if (outputShut) {
                if (answers) {
                    unanswered--; // cut off by a forced close: nobody will read it
                }
                memory.release(release);
                return;
            }
            queued++;
            bytesOut.add(frame.length + 4L);
            countError(frame);
            outbox.add(new Outgoing(frame, answers, release));
        }

        /**
         * Writes what is queued, one thread at a time: a thread that finds another writing leaves its frame and
         * returns, so a peer that stops reading holds one thread, not the pool. A reply counts against maxInFlight
         * until its write begins, which bounds the replies waiting here; the reader waits before it queues more
         * refusals than {@link #MAX_QUEUED_REFUSALS}. Then shuts the output if the session's end has come.
         */
        private void flush() {
            while (!outbox.isEmpty() && writing.compareAndSet(false, true)) {
                try {
                    for (Outgoing next = outbox.poll(); next != null; next = outbox.poll()) {
                        if (next.answers()) {
                            synchronized (lock) {
                                // Before the write: the client may send another as soon as it reads this reply.
                                unanswered--;
                            }
                        }
                        try {
                            sendQuietly(next.frame());
                            lastActivity = System.nanoTime();
                        } finally {
                            memory.release(next.release());
                            synchronized (lock) {
                                queued--;
                                lock.notifyAll();
                            }
                        }
                    }
                } finally {
                    writing.set(false);
                }
            }
            shutOutputIfDone();
        }

        /** Shuts the output once the session is ending or draining, and everything it owes is written. */
        private void shutOutputIfDone() {
            if (!ending && !draining) {
                return; // the common case, without the lock
            }
            synchronized (lock) {
                if (outputShut || version == 0 || !(ending || draining) || unanswered > 0 || queued > 0) {
                    return;
                }
                outputShut = true;
                lock.notifyAll();
            }
            try {
                connection.shutdownOutput();
            } catch (IOException | RuntimeException e) {
                LOG.debug("could not end the output of {}: {}", connection, e.toString());
                connection.abort();
            }
            sessionChanged();
        }

        private void sendQuietly(byte[] frame) {
            try {
                connection.send(frame);
            } catch (IOException | RuntimeException e) {
                LOG.debug("could not send to {}: {}", connection, e.toString());
                connection.abort();
            }
        }

        /**
         * Ends the session from its own thread: the requests taken are answered first, then {@code lastFrame} (an
         * ERROR, or nothing at the peer's end of stream) goes out, the output is shut, and a peer that may still be
         * sending is read to its end (or for a moment) so that the close loses nothing it was sent.
         */
        private void end(byte[] lastFrame) {
            long deadline = System.nanoTime() + limits.shutdownTimeout.toNanos();
            synchronized (lock) {
                awaitLocked(() -> unanswered == 0 && queued == 0, deadline);
                ending = true;
                if (lastFrame != null) {
                    queue(lastFrame, false, 0);
                }
            }
            flush();
            synchronized (lock) {
                awaitLocked(() -> outputShut, deadline);
            }
            if (lastFrame != null) {
                connection.discardInput(Refusals.LINGER);
            }
        }

        /** Ends with {@code error}: after the WELCOME, as {@link #end}; before it, straight away. */
        private void endOrRefuse(byte[] error) {
            boolean welcomed;
            synchronized (lock) {
                welcomed = version != 0;
            }
            if (welcomed) {
                end(error);
            } else {
                connection.finish(error, Refusals.LINGER);
            }
        }

        /** Waits on the lock, which the caller holds, until {@code done} or the deadline. */
        private void awaitLocked(BooleanSupplier done, long deadline) {
            while (!done.getAsBoolean() && connection.isOpen()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }

        /**
         * Tells the client GOAWAY, naming the last request taken: every request up to it (in the order they were sent)
         * is answered, none after it runs. Returns at once; the frame is written on a thread of its own when no writer
         * is at work, so that a client that reads nothing can't hold up the server's close.
         */
        void goAway() {
            synchronized (lock) {
                if (draining) {
                    return;
                }
                draining = true;
                if (version != 0) {
                    queue(Protocol.goaway(version, lastTaken, "the server is shutting down"), false, 0);
                }
            }
            // A stream (a watch, a tail) would not end by itself: it ends now, its client told CANCELLED.
            cancelStreams("the server is shutting down");
            try {
                connection.threads(name + "-goaway").newThread(this::flush).start();
            } catch (RuntimeException | OutOfMemoryError e) {
                flush();
            }
        }

        /** Whether the session has said all it will: its output is shut, or it is over. */
        boolean settled() {
            synchronized (lock) {
                return outputShut || finished.get();
            }
        }

        // Watchdog state: the write seen in progress, and since when (only the watchdog thread uses these).
        private long stalledWrite = -1;
        private long stalledSince;
        /** When the session was cut off (timed out, or gave way), or 0. */
        private volatile long cutOffAt;

        /** Enforces the timeouts; returns whether a write is in progress that was in progress at the last tick. */
        boolean enforceTimeouts(long now) {
            long cut = cutOffAt;
            if (cut != 0) {
                // Cut off earlier: the ERROR had its moment to go out; whatever holds it up, the end comes.
                if (now - cut > TIMEOUT_ERROR_GRACE_NANOS) {
                    connection.abort();
                }
                return false;
            }
            long writes = connection.writeCount();
            boolean stalled = false;
            if ((writes & 1) == 0) {
                stalledWrite = -1; // no write in progress
            } else if (writes != stalledWrite) {
                stalledWrite = writes; // a write in progress, first seen now
                stalledSince = now;
            } else if (!expired(limits.writeTimeout, stalledSince, now)) {
                stalled = true;
            } else {
                // Nothing can be sent to say why: the peer is not reading. Closing frees the blocked writer.
                LOG.info(
                        "closing {}: a write to {} stalled for writeTimeout {} (the peer reads nothing)",
                        connection,
                        peer == null ? "the peer" : peer,
                        limits.writeTimeout);
                connection.abort();
                return false;
            }
            int spoken;
            int taken;
            synchronized (lock) {
                spoken = version;
                taken = unanswered;
            }
            if (spoken == 0) {
                if (expired(limits.handshakeTimeout, acceptedAt, now)) {
                    timeOut("no hello within handshakeTimeout " + limits.handshakeTimeout);
                }
                return stalled;
            }
            long partial = connection.partialFrameSince();
            if (partial != 0 && expired(limits.frameTimeout, partial, now)) {
                timeOut("a frame stopped arriving half way for frameTimeout " + limits.frameTimeout);
            } else if (partial == 0 && taken == 0 && expired(limits.idleTimeout, lastActivity, now)) {
                timeOut("idle for idleTimeout " + limits.idleTimeout);
            }
            return stalled;
        }

        private boolean expired(Duration timeout, long since, long now) {
            return !timeout.isZero() && now - since > timeout.toNanos();
        }

        /**
         * Ends the session for a timeout, or to give way to a newer connection. The watchdog and the accepting threads
         * serve every connection, so they never write here: a write may wait on the peer, or on a lock that a writer
         * stuck on the peer holds. A thread of the session's sends the ERROR and closes; the watchdog closes anyway at
         * a later tick if that has not happened within a second. Once only.
         */
        private void cutOff(ErrorCode code, String why) {
            synchronized (lock) {
                if (cutOffAt != 0) {
                    return; // the watchdog and a newcomer may both come for it
                }
                cutOffAt = System.nanoTime() | 1; // never 0
            }
            LOG.debug("closing {}: {}", connection, why);
            byte[] error = Protocol.error(0, code, why);
            try {
                connection
                        .threads(name + "-cut-off")
                        .newThread(() -> {
                            sendQuietly(error);
                            connection.abort();
                        })
                        .start();
            } catch (RuntimeException | OutOfMemoryError e) {
                connection.abort(); // no thread to spare: close without the word
            }
        }

        private void timeOut(String why) {
            cutOff(ErrorCode.TIMEOUT, why);
        }

        /**
         * Whether the session may give way to a newer connection: past its hello, nothing in flight, nothing half
         * received, and silent for {@link #IDLE_BEFORE_GIVING_WAY_NANOS} at least; the caller holds {@code places}.
         */
        boolean idleSince(long now) {
            if (!counted
                    || cutOffAt != 0
                    || draining
                    || ending
                    || connection.partialFrameSince() != 0
                    || now - lastActivity < IDLE_BEFORE_GIVING_WAY_NANOS) {
                return false;
            }
            synchronized (lock) {
                return version != 0 && unanswered == 0 && queued == 0;
            }
        }

        /** Gives the session's place to a newer connection, and ends it saying why; the caller holds {@code places}. */
        void giveWay(String why) {
            uncount();
            errors[ErrorCode.TOO_MANY_CONNECTIONS.ordinal()].increment();
            cutOff(ErrorCode.TOO_MANY_CONNECTIONS, why);
        }

        /** Gives back the session's place in maxConnections and its peer's; the caller holds {@code places}. */
        private void uncount() {
            if (counted) {
                counted = false;
                established.decrementAndGet();
                perPeer.computeIfPresent(peer, (key, count) -> count.decrementAndGet() == 0 ? null : count);
                tell(listener -> listener.connectionClosed(connection.peer()));
            }
        }

        void finish() {
            if (finished.compareAndSet(false, true)) {
                List<Request> left;
                synchronized (lock) {
                    left = new ArrayList<>(running.values());
                }
                left.forEach(request -> request.cancel("its connection ended"));
                sessions.remove(this);
                if (helloSlot != null) {
                    helloSlot.release();
                }
                synchronized (places) {
                    uncount();
                }
                synchronized (lock) {
                    lock.notifyAll();
                }
                sessionChanged();
            }
        }
    }

    /** Builds an {@link IpcServer}; not thread-safe. */
    public static final class Builder {
        private final Endpoint endpoint;
        private ServerOptions options = ServerOptions.defaults();
        private AsyncRequestHandler handler;
        private Events events;

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
