package dev.ipc;

import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.Protocol;
import dev.ipc.internal.Threads;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client of an {@link IpcServer}: requests out, replies back, many calls in flight on one connection.
 *
 * <pre>{@code
 * try (IpcClient client = IpcClient.connect(Endpoint.parse("unix:/run/kv/kv.sock"))) {
 *     byte[] reply = client.call("status".getBytes(UTF_8));
 * }
 * }</pre>
 *
 * <p>Thread-safe: any number of threads may call at once. Calls beyond the server's limit on requests in flight (its
 * WELCOME states it) wait in the client for a place, up to their timeout ({@link ClientOptions#MAX_QUEUED_CALLS} of
 * them at most), rather than fail. When the connection drops, every call in flight fails at once with
 * {@link ConnectionLostException} (none hangs, none is resent: it may or may not have run); the next call reconnects,
 * retrying with exponential backoff and jitter for up to {@link ClientOptions#RECONNECT_TIMEOUT}. An error reply fails
 * its call with {@link RemoteException}. When the server shuts down gracefully, calls it answers complete as usual and
 * the others fail with {@link NotRunException}, which says they did not run and may be sent again; new calls go to a
 * new connection.
 */
public final class IpcClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IpcClient.class);
    private static final AtomicInteger CLIENTS = new AtomicInteger();

    private final Endpoint endpoint;
    private final ClientOptions options;
    /** Read on every call, so taken from the options once. */
    private final Duration callTimeout;

    private final int maxQueued;
    private final int streamWindow;
    /** Where callAsync's futures complete: never the reader thread. */
    private final Executor completions;

    private final String name = "ipc-client-" + CLIENTS.incrementAndGet();
    private final ReentrantLock connectLock = new ReentrantLock();
    private final AtomicInteger ids = new AtomicInteger();
    private volatile Session session;
    /** Sessions told GOAWAY and replaced, still reading the replies to their last calls. */
    private final Set<Session> retiring = ConcurrentHashMap.newKeySet();

    private volatile boolean closed;
    private final LongAdder calls = new LongAdder();
    private final LongAdder connects = new LongAdder();
    /** Times callAsync's calls out, and sends the calls that waited for a place; made on first use. */
    private volatile ScheduledThreadPoolExecutor timer; // written under timerLock

    private final Object timerLock = new Object();

    private IpcClient(Endpoint endpoint, ClientOptions options) {
        this.endpoint = endpoint;
        this.options = options;
        this.callTimeout = options.get(ClientOptions.CALL_TIMEOUT);
        this.maxQueued = options.get(ClientOptions.MAX_QUEUED_CALLS);
        this.streamWindow = options.get(ClientOptions.STREAM_WINDOW);
        this.completions = options.find(ClientOptions.EXECUTOR).orElse(ForkJoinPool.commonPool());
    }

    /** Connects with the default options (and those in the endpoint's query). */
    public static IpcClient connect(Endpoint endpoint) throws IOException {
        return connect(endpoint, ClientOptions.defaults());
    }

    /**
     * Connects and shakes hands at once, so that a wrong endpoint fails here rather than at the first call.
     *
     * @throws java.net.ConnectException if nobody listens there
     * @throws RemoteException if the server refused the connection (too many connections, version)
     * @throws IOException if connecting or the handshake fails otherwise
     */
    public static IpcClient connect(Endpoint endpoint, ClientOptions options) throws IOException {
        Objects.requireNonNull(endpoint, "endpoint");
        IpcClient client =
                new IpcClient(endpoint, options.toBuilder().query(endpoint).build());
        client.session = client.open();
        return client;
    }

    /** Calls with the default call timeout ({@link ClientOptions#CALL_TIMEOUT}). */
    public byte[] call(byte[] request) throws IOException {
        return call(request, callTimeout);
    }

    /**
     * Sends a request and waits for its reply.
     *
     * @param timeout how long to wait for the reply; zero for no limit
     * @throws SocketTimeoutException if no reply came in time (a late reply is dropped)
     * @throws RemoteException if the server answered with an error
     * @throws ConnectionLostException if the connection dropped while the call was in flight
     * @throws IllegalArgumentException if the request is over the server's maxFrameSize; nothing is sent
     */
    public byte[] call(byte[] request, Duration timeout) throws IOException {
        Pending pending = start(request, timeout, 0);
        try {
            return timeout.isZero()
                    ? pending.future.get()
                    : pending.future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            SocketTimeoutException timedOut = pending.timedOut(timeout);
            pending.abandon(timedOut);
            throw timedOut;
        } catch (InterruptedException e) {
            pending.abandon(new InterruptedIOException("interrupted"));
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for a reply from " + endpoint);
        } catch (ExecutionException e) {
            throw rethrowable(e.getCause());
        }
    }

    /** {@link #callAsync(byte[], Duration)} with the default call timeout ({@link ClientOptions#CALL_TIMEOUT}). */
    public CompletableFuture<byte[]> callAsync(byte[] request) {
        return callAsync(request, callTimeout);
    }

    /**
     * Sends a request without waiting: the future completes with the reply, or fails as {@link #call(byte[], Duration)}
     * would.
     *
     * <p>Never blocks the caller: a call that must wait for a reconnect, or for a place among the server's requests in
     * flight, waits in the background. The future completes on the client's executor ({@link ClientOptions#EXECUTOR}),
     * never on the thread that reads the connection, so a stage chained to it may make another call and wait for it.
     * Its timer is cancelled when it completes, so nothing holds the reply after that. Cancelling the future abandons
     * the call: a late reply is dropped.
     *
     * @param timeout how long the call may take in all; zero for no limit
     */
    public CompletableFuture<byte[]> callAsync(byte[] request, Duration timeout) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(timeout, "timeout");
        if (closed) {
            return CompletableFuture.failedFuture(new SocketException("client of " + endpoint + " is closed"));
        }
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        AtomicReference<Pending> started = new AtomicReference<>();
        Runnable begin = () -> {
            try {
                Pending pending = start(request, timeout, 0);
                started.set(pending);
                pending.future.whenCompleteAsync(
                        (reply, failure) -> {
                            if (failure == null) {
                                result.complete(reply);
                            } else {
                                result.completeExceptionally(failure);
                            }
                        },
                        completions);
                if (result.isDone()) {
                    pending.abandon(new SocketTimeoutException("abandoned"));
                }
            } catch (IOException | RuntimeException e) {
                completions.execute(() -> result.completeExceptionally(e));
            }
        };
        Session current = session;
        if (current != null && current.usable()) {
            begin.run();
        } else {
            completions.execute(begin); // a reconnect may take a while: not on the caller's thread
        }
        ScheduledFuture<?> timer = after(
                timeout,
                () -> {
                    Pending pending = started.get();
                    SocketTimeoutException timedOut = pending != null
                            ? pending.timedOut(timeout)
                            : new SocketTimeoutException("could not reach " + endpoint + " within " + timeout);
                    if (pending != null) {
                        pending.abandon(timedOut); // out of the queue before anyone is told
                    }
                    result.completeExceptionally(timedOut);
                },
                result::completeExceptionally);
        result.whenComplete((reply, failure) -> {
            if (timer != null) {
                timer.cancel(false); // the timer lets go of the call, and so of its reply
            }
            Pending pending = started.get();
            if (failure != null && pending != null) {
                pending.abandon(failure); // timed out or cancelled: a late reply is dropped
            }
        });
        return result;
    }

    /** The client's counters now: calls made, in flight and queued, and connections made. */
    public ClientStats stats() {
        long inFlight = 0;
        long queued = 0;
        Session current = session;
        Set<Session> all = new HashSet<>(retiring);
        if (current != null) {
            all.add(current);
        }
        for (Session each : all) {
            inFlight += each.pending.size();
            queued += each.queued();
        }
        return new ClientStats(calls.sum(), inFlight, queued, connects.sum());
    }

    /** The client's timer thread, made on first use and ended by {@link #close()}. */
    private ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor made = timer;
        if (made != null) {
            return made; // shut down by close(): then it refuses, as a closed client should
        }
        synchronized (timerLock) { // not connectLock, which a reconnect holds for as long as it takes
            if (closed) {
                throw new RejectedExecutionException("closed");
            }
            if (timer == null) {
                ScheduledThreadPoolExecutor fresh =
                        new ScheduledThreadPoolExecutor(1, Threads.daemons(name + "-timer"));
                fresh.setRemoveOnCancelPolicy(true);
                timer = fresh;
            }
            return timer;
        }
    }

    private static IOException rethrowable(Throwable cause) {
        if (cause instanceof IOException) {
            return (IOException) cause;
        }
        if (cause instanceof RuntimeException) {
            throw (RuntimeException) cause;
        }
        return new IOException(cause);
    }

    /**
     * Sends a request whose answer is a stream of messages, read as they come; it has no deadline. A handler that
     * answers with a single reply gives a stream of that one message (none, if it is empty).
     *
     * <pre>{@code
     * try (StreamingCall changes = client.stream("watch config/".getBytes(UTF_8))) {
     *     for (byte[] change : changes) {
     *         System.out.println(new String(change, UTF_8));
     *     }
     * }
     * }</pre>
     *
     * @throws IllegalArgumentException if the request is over the server's maxFrameSize; nothing is sent
     * @throws UnsupportedOperationException if the server speaks a protocol older than version 3, which has no streams
     */
    public StreamingCall stream(byte[] request) throws IOException {
        return stream(request, Duration.ZERO);
    }

    /**
     * {@link #stream(byte[])} with a deadline for the whole stream: the server is told it, and once it passes the call
     * is cancelled and the stream fails with {@link SocketTimeoutException}.
     *
     * @param timeout how long the whole stream may take; zero for no limit
     */
    public StreamingCall stream(byte[] request, Duration timeout) throws IOException {
        Objects.requireNonNull(timeout, "timeout");
        Pending pending = start(request, timeout, streamWindow);
        ScheduledFuture<?> timer = after(timeout, () -> pending.abandon(pending.timedOut(timeout)), pending::abandon);
        if (timer != null) {
            pending.future.whenComplete((reply, failure) -> timer.cancel(false));
        }
        return pending.stream;
    }

    /**
     * Runs {@code task} on the client's timer once {@code timeout} has passed; null for a zero timeout, or when the
     * client is closed (then {@code closed} is told so at once).
     */
    private ScheduledFuture<?> after(Duration timeout, Runnable task, Consumer<SocketException> closed) {
        if (timeout.isZero()) {
            return null;
        }
        try {
            return timer().schedule(task, timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            closed.accept(new SocketException("client of " + endpoint + " is closed"));
            return null;
        }
    }

    /**
     * The stream {@link #stream(byte[])} reads, as a {@link Flow.Publisher}: each subscriber makes its own call when it
     * subscribes, and its demand is the flow control (the server sends no more than the subscriber requested, and the
     * window, ahead of it). Signals arrive on the client's executor ({@link ClientOptions#EXECUTOR}), one at a time;
     * cancelling the subscription cancels the call.
     */
    public Flow.Publisher<byte[]> publisher(byte[] request) {
        Objects.requireNonNull(request, "request");
        return subscriber -> StreamPublisher.subscribe(this, request, subscriber, completions);
    }

    private Pending start(byte[] request, Duration timeout, int window) throws IOException {
        Objects.requireNonNull(request, "request");
        calls.increment();
        Session current = usableSession();
        if (request.length > current.maxPayload) {
            throw new IllegalArgumentException("request of " + request.length
                    + " bytes is over the server's maxFrameSize " + current.maxPayload + "; nothing was sent");
        }
        if (window > 0 && current.version < Protocol.STREAMS) {
            throw new UnsupportedOperationException("the server at " + endpoint + " speaks protocol version "
                    + current.version + ", which has no streams (they came in version 3); nothing was sent");
        }
        Pending pending = new Pending(current, request, timeout, window);
        if (current.admit(pending)) {
            send(pending);
        }
        return pending;
    }

    /** Sends a call that has its place among the server's requests in flight. */
    private void send(Pending pending) {
        Session current = pending.session;
        byte[] request = pending.request;
        pending.request = null; // held only until sent
        int id = ids.updateAndGet(last -> last == Integer.MAX_VALUE ? 1 : last + 1);
        pending.id = id;
        current.pending.put(id, pending);
        // Registered after the GOAWAY was read, the request goes out after the last one the server takes.
        pending.afterGoaway = current.goingAway;
        try {
            byte[] frame = current.version >= Protocol.STREAMS
                    ? Protocol.request(id, pending.timeoutMillisLeft(), pending.window, request)
                    : Protocol.call(Protocol.REQUEST, id, request);
            current.connection.send(frame);
        } catch (IOException e) {
            current.lost(e);
        }
        if (pending.future.isDone()) {
            pending.tellServer(); // abandoned while it was being sent
        }
        if (current.dead) {
            // Lost while this call was being registered: fail it too, rather than let it wait for nothing.
            current.lost(new SocketException("the connection dropped"));
        }
    }

    /** Sends, on the timer's thread (never the reader's), a call that waited for its place. */
    private void sendLater(Pending pending) {
        try {
            timer().execute(() -> send(pending));
        } catch (RejectedExecutionException e) {
            pending.future.completeExceptionally(new NotRunException(
                    "the client of " + endpoint + " was closed before " + "this call was sent; it did not run"));
        }
    }

    /** The current session, or a new one when it has dropped or been told to go away. */
    private Session usableSession() throws IOException {
        Session current = session;
        if (current != null && current.usable()) {
            return current;
        }
        connectLock.lock();
        try {
            if (closed) {
                throw new SocketException("client of " + endpoint + " is closed");
            }
            current = session;
            if (current != null && current.usable()) {
                return current;
            }
            if (current != null && !current.dead) {
                retiring.add(current); // its calls still complete; close() ends it if the server does not first
                if (current.dead) {
                    retiring.remove(current);
                }
            }
            session = reconnect();
            return session;
        } finally {
            connectLock.unlock();
        }
    }

    private Session reconnect() throws IOException {
        long deadline =
                System.nanoTime() + options.get(ClientOptions.RECONNECT_TIMEOUT).toNanos();
        long pauseNanos = TimeUnit.MILLISECONDS.toNanos(10);
        while (true) {
            try {
                Session fresh = open();
                LOG.debug("reconnected to {}", endpoint);
                return fresh;
            } catch (IOException e) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || isPermanent(e)) {
                    throw e;
                }
                long jittered = pauseNanos / 2 + ThreadLocalRandom.current().nextLong(pauseNanos / 2 + 1);
                LockSupport.parkNanos(Math.min(jittered, left));
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("interrupted while reconnecting to " + endpoint);
                }
                pauseNanos = Math.min(pauseNanos * 2, TimeUnit.SECONDS.toNanos(1));
            }
        }
    }

    /** Whether a failure to connect would only repeat: the peer refused who or what this client is. */
    private static boolean isPermanent(IOException e) {
        if (e instanceof RemoteException) {
            ErrorCode code = ((RemoteException) e).code();
            return code == ErrorCode.UNSUPPORTED_VERSION || code == ErrorCode.UNAUTHORIZED;
        }
        return e instanceof AuthenticationException || e instanceof SSLException;
    }

    /** Connects and shakes hands, within the handshake timeout. */
    private Session open() throws IOException {
        // Room for the server's ERROR frames too, whose messages may outgrow a tiny payload limit.
        ConnectionOptions connectionOptions = ConnectionOptions.takenFrom(options)
                .set(
                        ConnectionOptions.MAX_FRAME_SIZE,
                        Math.max(
                                Protocol.frameLimit(options.get(ConnectionOptions.MAX_FRAME_SIZE), Protocol.VERSION),
                                Protocol.MAX_HELLO + 1024))
                .build();
        FramedConnection connection = Ipc.connectFramed(endpoint.withoutParameters(), connectionOptions);
        CompletableFuture<Void> handshake = new CompletableFuture<>();
        if (!options.get(ConnectionOptions.HANDSHAKE_TIMEOUT).isZero()) {
            CompletableFuture.delayedExecutor(
                            options.get(ConnectionOptions.HANDSHAKE_TIMEOUT).toNanos(),
                            TimeUnit.NANOSECONDS,
                            Runnable::run)
                    .execute(() -> {
                        if (handshake.complete(null)) {
                            Closer.closeQuietly(connection, null);
                        }
                    });
        }
        try {
            connection.send(Protocol.hello(Protocol.VERSION));
            byte[] answer = connection.receive();
            if (answer == null) {
                throw new ConnectionLostException(
                        "the server at " + endpoint + " closed the connection during the " + "handshake", null);
            }
            if (Protocol.type(answer) == Protocol.ERROR) {
                throw new RemoteException(Protocol.errorCode(answer), Protocol.errorMessage(answer));
            }
            int[] welcome = Protocol.welcomeFields(answer); // version, payload limit, in-flight limit
            if (!handshake.complete(null)) {
                throw new SocketTimeoutException("no answer to the hello from " + endpoint + " within handshakeTimeout "
                        + options.get(ConnectionOptions.HANDSHAKE_TIMEOUT));
            }
            Session fresh = new Session(
                    connection,
                    welcome[0],
                    Math.min(welcome[1], options.get(ConnectionOptions.MAX_FRAME_SIZE)),
                    welcome[2]);
            LOG.debug(
                    "connected to {}: protocol version {}, payloads up to {} bytes, {} requests in flight",
                    endpoint,
                    welcome[0],
                    welcome[1],
                    welcome[2] == 0 ? "unstated" : welcome[2]);
            connects.increment();
            fresh.reader = connection.threads(name + "-reader").newThread(fresh::read);
            fresh.reader.start();
            return fresh;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(connection, e);
            if (!handshake.complete(null) && !(e instanceof RemoteException)) {
                SocketTimeoutException timeout = new SocketTimeoutException("no answer to the hello from " + endpoint
                        + " within handshakeTimeout " + options.get(ConnectionOptions.HANDSHAKE_TIMEOUT));
                timeout.initCause(e);
                throw timeout;
            }
            throw e;
        }
    }

    /** Closes the connection; calls in flight fail with {@link ConnectionLostException}. Idempotent. */
    @Override
    public void close() throws IOException {
        connectLock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            connectLock.unlock();
        }
        ScheduledThreadPoolExecutor stopping;
        synchronized (timerLock) {
            stopping = timer;
        }
        if (stopping != null) {
            stopping.shutdownNow();
        }
        Session current = session;
        if (current != null) {
            current.cancelAll();
            current.close();
        }
        for (Session old : retiring) {
            old.cancelAll();
            old.close();
        }
    }

    @Override
    public String toString() {
        return "IpcClient[" + endpoint + (closed ? ", closed" : "") + "]";
    }

    /** A call: waiting for its place among the server's requests in flight, then for its reply. */
    private final class Pending {
        final Session session;
        final CompletableFuture<byte[]> future = new CompletableFuture<>();
        /** The request, until it is sent. */
        volatile byte[] request;
        /** Its id once sent; 0 before. */
        volatile int id;
        /** Whether it was sent after the server's GOAWAY arrived, so after the last request the server takes. */
        volatile boolean afterGoaway;
        /** When the caller stops waiting (System.nanoTime()), if it has a timeout. */
        final long deadline;

        final boolean hasDeadline;
        final Duration timeout;
        /** STREAM frames taken ahead of the reader; 0 for a single reply. */
        final int window;
        /** The messages, for a stream; null for a single reply. */
        final StreamingCall stream;

        Pending(Session session, byte[] request, Duration timeout, int window) {
            this.session = session;
            this.request = request;
            this.hasDeadline = !timeout.isZero();
            this.timeout = timeout;
            this.deadline = hasDeadline ? System.nanoTime() + timeout.toNanos() : 0;
            this.window = window;
            if (window > 0) {
                stream = new StreamingCall(
                        "the stream of " + endpoint,
                        window,
                        this::grant,
                        () -> abandon(new CancellationException("the stream was closed")));
                future.whenComplete((reply, failure) -> stream.end(reply, failure));
            } else {
                stream = null;
            }
        }

        /** The milliseconds the server is told the client waits, from now; 0 for no limit. */
        long timeoutMillisLeft() {
            if (!hasDeadline) {
                return 0;
            }
            return Math.max(1, Protocol.timeoutMillis(Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))));
        }

        /**
         * Gives up on the call: if it still waits for a place it never goes out; if it was sent, the server is told to
         * cancel it, and its answer will be dropped (its place is the server's until then).
         */
        void abandon(Throwable why) {
            future.completeExceptionally(why);
            session.unqueue(this);
            tellServer();
        }

        /** Sends CANCEL for a call that was sent and is not answered yet (version 3; older servers are not told). */
        void tellServer() {
            int sent = id;
            if (sent == 0 || session.version < Protocol.STREAMS || session.pending.get(sent) != this || session.dead) {
                return;
            }
            try {
                session.connection.send(Protocol.cancel(sent));
            } catch (IOException | RuntimeException e) {
                LOG.debug("could not cancel request {} on {}: {}", sent, endpoint, e.toString());
            }
        }

        /** Sends CREDIT for {@code count} more messages of the stream. */
        private void grant(int count) {
            int sent = id;
            if (sent == 0 || session.pending.get(sent) != this || session.dead) {
                return;
            }
            try {
                session.connection.send(Protocol.credit(sent, count));
            } catch (IOException | RuntimeException e) {
                LOG.debug("could not grant credit on request {} to {}: {}", sent, endpoint, e.toString());
            }
        }

        /** The timeout of a call that took longer than {@code timeout}, saying what it waited for. */
        SocketTimeoutException timedOut(Duration timeout) {
            if (id == 0 && request != null) {
                return new SocketTimeoutException("no place for this call among the " + session.maxInFlight
                        + " requests in flight that " + endpoint + " allows within " + timeout + " (the others were"
                        + " still running); it was not sent");
            }
            return new SocketTimeoutException("no reply from " + endpoint + " within " + timeout);
        }
    }

    /** One connection and the calls in flight on it. */
    private final class Session {
        final FramedConnection connection;
        final int version;
        final int maxPayload;
        final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
        volatile boolean goingAway;
        /** The last request the server takes, as its GOAWAY said; -1 before a GOAWAY, or from a version 1 server. */
        volatile long lastTaken = -1;

        volatile boolean dead;
        Thread reader;

        /** The WELCOME's limit on requests in flight; 0 where the server states none (version 1). */
        final int maxInFlight;

        private int places; // free places among them; guarded by waiting
        private final ArrayDeque<Pending> waiting = new ArrayDeque<>(); // calls waiting for a place, in order

        Session(FramedConnection connection, int version, int maxPayload, int maxInFlight) {
            this.connection = connection;
            this.version = version;
            this.maxPayload = maxPayload;
            this.maxInFlight = maxInFlight;
            this.places = maxInFlight;
        }

        /**
         * Takes a place among the requests in flight for {@code call}: true if it may be sent now, false if it waits
         * for one (a reply frees it, and it is sent then).
         *
         * @throws CallQueueFullException if {@link ClientOptions#MAX_QUEUED_CALLS} calls wait already
         */
        boolean admit(Pending call) throws CallQueueFullException {
            if (maxInFlight == 0) {
                return true;
            }
            synchronized (waiting) {
                if (places > 0 && waiting.isEmpty()) {
                    places--;
                    return true;
                }
                if (waiting.size() >= maxQueued) {
                    throw new CallQueueFullException(waiting.size() + " calls already wait for a place among the "
                            + maxInFlight + " requests in flight that " + endpoint + " allows (maxQueuedCalls "
                            + maxQueued + "); this one was not sent");
                }
                waiting.add(call);
            }
            if (dead) {
                failWaiting("the connection dropped");
            }
            return false;
        }

        /** How many calls wait for a place now. */
        int queued() {
            synchronized (waiting) {
                return waiting.size();
            }
        }

        /** Takes back a call that still waits for a place, as it is abandoned. */
        void unqueue(Pending call) {
            synchronized (waiting) {
                waiting.remove(call);
            }
        }

        /** A reply freed a place: the next waiting call takes it, or it stays free. */
        private void freePlace() {
            if (maxInFlight == 0) {
                return;
            }
            Pending next;
            synchronized (waiting) {
                next = waiting.poll();
                if (next == null) {
                    places++;
                    return;
                }
            }
            sendLater(next);
        }

        /** Fails the calls still waiting for a place: none was sent, so none ran. */
        private void failWaiting(String why) {
            while (true) {
                Pending next;
                synchronized (waiting) {
                    next = waiting.poll();
                }
                if (next == null) {
                    return;
                }
                next.future.completeExceptionally(new NotRunException(why + " before this call was sent to " + endpoint
                        + " (it waited for a place among the requests in flight); it did not run"));
            }
        }

        boolean usable() {
            return !dead && !goingAway && connection.isOpen();
        }

        void read() {
            try {
                for (byte[] frame = connection.receive(); frame != null; frame = connection.receive()) {
                    switch (Protocol.type(frame)) {
                        case Protocol.RESPONSE:
                            complete(Protocol.id(frame), Protocol.payload(frame), null);
                            break;
                        case Protocol.STREAM:
                            streamed(Protocol.id(frame), frame);
                            break;
                        case Protocol.ERROR:
                            int id = Protocol.id(frame);
                            RemoteException error = Protocol.remoteError(frame);
                            if (id == 0) {
                                throw error;
                            }
                            complete(id, null, failure(id, error));
                            break;
                        case Protocol.GOAWAY:
                            // Every request up to the last one taken is answered before the server's end of stream;
                            // the rest fail there, as not run. Reading goes on until then.
                            lastTaken = Protocol.goawayLastId(version, frame);
                            goingAway = true;
                            failWaiting("the server began to shut down");
                            LOG.debug(
                                    "{} is going away (last request taken: {}): {}",
                                    endpoint,
                                    lastTaken < 0 ? "unstated" : lastTaken,
                                    Protocol.goawayMessage(version, frame));
                            break;
                        default:
                            throw new ProtocolException("unknown frame type " + frame[0] + " from " + endpoint);
                    }
                }
                if (goingAway) {
                    notRun();
                }
                lost(new EOFException("the server closed the connection"));
            } catch (IOException e) {
                lost(e);
            }
        }

        /** At the server's end of stream after its GOAWAY: what is still pending was not taken, so did not run. */
        private void notRun() {
            dead = true; // a call registered from now on fails as sent after the GOAWAY
            retiring.remove(this);
            failWaiting("the server shut down");
            // Before the close: a sender whose write the close interrupts would fail its calls as lost, not as not run.
            for (Pending call : pending.values()) {
                if (pending.remove(call.id, call)) {
                    call.future.completeExceptionally(new NotRunException("the server at " + endpoint + " shut down "
                            + "before it took this request (its GOAWAY named request " + lastTaken
                            + " as the last it would answer); it did not run and may be sent again"));
                }
            }
            Closer.closeQuietly(connection, null);
        }

        /**
         * The exception an ERROR fails its call with: not run for SHUTTING_DOWN; for a call with a timeout that the
         * server cancelled as its deadline passed, the same timeout the client's own timer would have given.
         */
        private IOException failure(int id, RemoteException error) {
            if (error.code() == ErrorCode.SHUTTING_DOWN) {
                return new NotRunException(error.getMessage());
            }
            Pending call = pending.get(id);
            if (error.code() == ErrorCode.CANCELLED
                    && call != null
                    && call.hasDeadline
                    && call.deadline - System.nanoTime() < TimeUnit.MILLISECONDS.toNanos(100)) {
                SocketTimeoutException timedOut = call.timedOut(call.timeout);
                timedOut.initCause(error);
                return timedOut;
            }
            return error;
        }

        /** One message of a stream; dropped if its call was abandoned (its end is still awaited). */
        private void streamed(int id, byte[] frame) throws ProtocolException {
            Pending call = pending.get(id);
            if (call == null) {
                throw new ProtocolException("the server sent a STREAM frame for request " + Integer.toUnsignedString(id)
                        + ", which is not in flight");
            }
            if (call.stream == null) {
                throw new ProtocolException("the server sent a STREAM frame for request " + Integer.toUnsignedString(id)
                        + ", whose client asked for a single reply (window 0)");
            }
            call.stream.offer(Protocol.payload(frame));
        }

        /** Tells the server the calls in flight are given up (the client is closing), so their handlers stop. */
        void cancelAll() {
            if (version < Protocol.STREAMS || dead) {
                return;
            }
            for (Pending call : pending.values()) {
                call.tellServer();
            }
        }

        private void complete(int id, byte[] reply, IOException error) {
            Pending call = pending.remove(id);
            if (call != null) {
                freePlace();
                if (error == null) {
                    call.future.complete(reply);
                } else {
                    call.future.completeExceptionally(error);
                }
            }
        }

        /**
         * Whether the server's GOAWAY said it would not take request {@code id}: sent after the last one it named. Ids
         * rise by one per call (wrapping past 2^31 - 1 to 1), so "after" is a positive difference.
         */
        private boolean notTaken(int id) {
            long last = lastTaken;
            return goingAway && last >= 0 && id - (int) last > 0;
        }

        /**
         * Fails every call in flight at once; the next call reconnects. After a GOAWAY, a call the server said it would
         * not take fails as not run however the stream ended (a server that stops waiting for this client to close may
         * reset the connection rather than end it).
         */
        void lost(IOException cause) {
            dead = true;
            retiring.remove(this);
            Closer.closeQuietly(connection, cause);
            failWaiting("the connection dropped (" + cause.getMessage() + ")");
            if (!pending.isEmpty()) {
                LOG.debug(
                        "connection to {} lost with {} calls in flight: {}",
                        endpoint,
                        pending.size(),
                        cause.toString());
            }
            for (Pending call : pending.values()) {
                if (!pending.remove(call.id, call)) {
                    continue;
                }
                if ((call.afterGoaway || notTaken(call.id)) && !(cause instanceof RemoteException)) {
                    call.future.completeExceptionally(new NotRunException("the connection to " + endpoint + " was lost"
                            + " after the server's GOAWAY, before this request could be taken; it did not run and may"
                            + " be sent again: " + cause.getMessage()));
                } else {
                    call.future.completeExceptionally(
                            cause instanceof RemoteException
                                    ? cause
                                    : new ConnectionLostException(
                                            "the connection to " + endpoint + " was lost before the reply: "
                                                    + cause.getMessage(),
                                            cause));
                }
            }
        }

        void close() {
            dead = true;
            Closer.closeQuietly(connection, null);
            Thread current = reader;
            if (current != null && current != Thread.currentThread()) {
                try {
                    current.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            lost(new SocketException("the client was closed"));
        }
    }
}
