package dev.ipc;

import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.Threads;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
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
    /** The completion threads of a client: enough to keep up with one reader, a few for stages that take a while. */
    private static final int COMPLETION_THREADS =
            Math.min(4, Math.max(2, Runtime.getRuntime().availableProcessors()));

    private final Endpoint endpoint;
    private final ClientOptions options;
    /** Read on every call, so taken from the options once. */
    private final Duration callTimeout;

    private final int maxQueued;
    private final int streamWindow;
    /** Where callAsync's futures complete: never the reader thread. */
    private final Executor completions;
    /** The client's own completion threads, unless the options name an executor; ended by {@link #close()}. */
    private final ExecutorService ownCompletions;
    /** What each session needs of this client. */
    private final ClientSession.Setup setup;
    /** What runs around each call; null for nothing. */
    private final Interceptor interceptor;

    private final String name = "ipc-client-" + CLIENTS.incrementAndGet();
    private final ReentrantLock connectLock = new ReentrantLock();
    private final AtomicInteger ids = new AtomicInteger();
    private volatile ClientSession session;
    /** Sessions told GOAWAY and replaced, still reading the replies to their last calls. */
    private final Set<ClientSession> retiring = ConcurrentHashMap.newKeySet();

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
        Executor given = options.find(ClientOptions.EXECUTOR).orElse(null);
        this.ownCompletions = given == null ? Threads.completions(name + "-completion", COMPLETION_THREADS) : null;
        this.completions = given == null ? ownCompletions : given;
        this.interceptor = options.find(ClientOptions.INTERCEPTOR).orElse(null);
        this.setup = new ClientSession.Setup(endpoint.toString(), maxQueued, completions, retiring::remove);
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
        if (interceptor != null) {
            return intercepted(request, timeout);
        }
        Call pending = start(request, timeout, 0);
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

    /** A blocking call through the interceptor: it waits for the chain's future, which the call's timeout ends. */
    private byte[] intercepted(byte[] request, Duration timeout) throws IOException {
        CompletableFuture<byte[]> answer = callAsync(request, timeout);
        try {
            return answer.get();
        } catch (InterruptedException e) {
            answer.cancel(false);
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
     * flight, waits in the background. A thread waiting in {@code get} or {@code join} is woken by the thread that
     * reads the reply; every stage chained to the future (and its {@code *Async} stages by default) runs on the
     * client's executor ({@link ClientOptions#EXECUTOR}, else 2 to 4 threads of the client's own), never on the thread
     * that reads the connection, so a stage may make another call and wait for it. Its timer is cancelled when it
     * completes, so nothing holds the reply after that. Cancelling the future abandons the call: a late reply is
     * dropped.
     *
     * @param timeout how long the call may take in all; zero for no limit
     */
    public CompletableFuture<byte[]> callAsync(byte[] request, Duration timeout) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(timeout, "timeout");
        if (interceptor != null) {
            try {
                CompletableFuture<byte[]> answer = interceptor.intercept(request, timeout, this::send);
                return Objects.requireNonNull(answer, "the interceptor's future");
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        return send(request, timeout);
    }

    /** The call itself, past the interceptor. */
    private CompletableFuture<byte[]> send(byte[] request, Duration timeout) {
        if (closed) {
            return CompletableFuture.failedFuture(new SocketException("client of " + endpoint + " is closed"));
        }
        AsyncCall call = new AsyncCall(request, timeout);
        ClientSession current = session;
        if (current != null && current.usable()) {
            call.begin();
        } else {
            completions.execute(call::begin); // a reconnect may take a while: not on the caller's thread
        }
        ScheduledFuture<?> timer = after(timeout, call::timeOut, call.result::completeExceptionally);
        call.result.whenDone((reply, failure) -> {
            if (timer != null) {
                timer.cancel(false); // the timer lets go of the call, and so of its reply
            }
            Call started = call.started;
            if (failure != null && started != null) {
                started.abandon(failure); // timed out or cancelled: a late reply is dropped
            }
        });
        return call.result;
    }

    /**
     * Runs around each {@link #call} and {@link #callAsync} of a client ({@link ClientOptions#INTERCEPTOR}): logging,
     * metrics, timing, a header added to every request. It gets the request and its timeout, and calls {@code next}
     * (the rest of the chain, then the call itself) or answers without it. Streams are not intercepted.
     *
     * <pre>{@code
     * IpcClient.Interceptor timed = (request, timeout, next) -> {
     *     long start = System.nanoTime();
     *     return next.call(request, timeout).whenComplete((reply, failure) -> record(System.nanoTime() - start));
     * };
     * IpcClient.connect(endpoint, ClientOptions.builder().set(ClientOptions.INTERCEPTOR, timed).build());
     * }</pre>
     */
    @FunctionalInterface
    public interface Interceptor {
        /** Makes the call {@code request}, through {@code next} or not; the future is the caller's. */
        CompletableFuture<byte[]> intercept(byte[] request, Duration timeout, Next next);

        /** The rest of the chain. */
        @FunctionalInterface
        interface Next {
            /** Makes the call: the next interceptor's, or the client's own. */
            CompletableFuture<byte[]> call(byte[] request, Duration timeout);
        }

        /**
         * One interceptor that runs {@code interceptors} in order: the first sees the request first, the answer last.
         */
        static Interceptor chain(Interceptor... interceptors) {
            Interceptor[] all = interceptors.clone();
            return (request, timeout, last) -> {
                Next next = last;
                for (int i = all.length - 1; i >= 0; i--) {
                    Interceptor inner = all[i];
                    Next after = next;
                    next = (r, t) -> inner.intercept(r, t, after);
                }
                return next.call(request, timeout);
            };
        }
    }

    /** One call of {@link #callAsync}: its stages run on the client's executor, never the reader's thread. */
    private final class AsyncCall {
        final CallFuture result = new CallFuture(completions);
        final byte[] request;
        final Duration timeout;
        volatile Call started;

        AsyncCall(byte[] request, Duration timeout) {
            this.request = request;
            this.timeout = timeout;
        }

        void begin() {
            try {
                Call call = start(request, timeout, 0);
                started = call;
                call.future.whenComplete((reply, failure) -> {
                    if (failure == null) {
                        result.complete(reply); // wakes a waiter here; chained stages go to the executor
                    } else {
                        result.completeExceptionally(failure);
                    }
                });
                if (result.isDone()) {
                    call.abandon(new SocketTimeoutException("abandoned"));
                }
            } catch (IOException | RuntimeException e) {
                result.completeExceptionally(e);
            }
        }

        /** On the timer's thread: the call fails here, and its chained stages run on the executor. */
        void timeOut() {
            Call call = started;
            if (call != null) {
                call.abandon(call.timedOut(timeout)); // out of the queue, then told through its own completion
            } else {
                SocketTimeoutException timedOut =
                        new SocketTimeoutException("could not reach " + endpoint + " within " + timeout);
                result.completeExceptionally(timedOut);
            }
        }
    }

    /** The client's counters now: calls made, in flight and queued, and connections made. */
    public ClientStats stats() {
        long inFlight = 0;
        long queued = 0;
        ClientSession current = session;
        Set<ClientSession> all = new HashSet<>(retiring);
        if (current != null) {
            all.add(current);
        }
        for (ClientSession each : all) {
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
        Call pending = start(request, timeout, streamWindow);
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

    private Call start(byte[] request, Duration timeout, int window) throws IOException {
        Objects.requireNonNull(request, "request");
        calls.increment();
        ClientSession current = usableSession();
        if (request.length > current.maxPayload) {
            throw new IllegalArgumentException("request of " + request.length
                    + " bytes is over the server's maxFrameSize " + current.maxPayload + "; nothing was sent");
        }
        if (window > 0 && !current.hasStreams()) {
            throw new UnsupportedOperationException("the server at " + endpoint + " speaks protocol version "
                    + current.version + ", which has no streams (they came in version 3); nothing was sent");
        }
        Call pending = new Call(current, request, timeout, window);
        if (current.admit(pending)) {
            current.send(pending);
        }
        return pending;
    }

    /** The current session, or a new one when it has dropped or been told to go away. */
    private ClientSession usableSession() throws IOException {
        ClientSession current = session;
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
            if (current != null && !current.isDead()) {
                retiring.add(current); // its calls still complete; close() ends it if the server does not first
                if (current.isDead()) {
                    retiring.remove(current);
                }
            }
            session = reconnect();
            return session;
        } finally {
            connectLock.unlock();
        }
    }

    private ClientSession reconnect() throws IOException {
        long deadline =
                System.nanoTime() + options.get(ClientOptions.RECONNECT_TIMEOUT).toNanos();
        long pauseNanos = TimeUnit.MILLISECONDS.toNanos(10);
        while (true) {
            try {
                ClientSession fresh = open();
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
    private ClientSession open() throws IOException {
        FramedConnection connection =
                Ipc.connectFramed(endpoint.withoutParameters(), ClientSession.connectionOptions(options));
        ClientSession fresh = ClientSession.handshake(
                connection,
                options.get(ConnectionOptions.HANDSHAKE_TIMEOUT),
                options.get(ConnectionOptions.MAX_FRAME_SIZE),
                setup);
        connects.increment();
        fresh.start(name + "-reader");
        return fresh;
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
        ClientSession current = session;
        if (current != null) {
            current.cancelAll();
            current.close();
        }
        for (ClientSession old : retiring) {
            old.cancelAll();
            old.close();
        }
        if (ownCompletions != null) {
            ownCompletions.shutdown(); // what is queued still completes; the threads end once it has
        }
    }

    @Override
    public String toString() {
        return "IpcClient[" + endpoint + (closed ? ", closed" : "") + "]";
    }
}
