package dev.ipc;

import dev.ipc.internal.Closer;
import dev.ipc.internal.Codec;
import dev.ipc.internal.Frame;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.HandshakeSlots;
import dev.ipc.internal.MemoryBudget;
import dev.ipc.internal.OverBudgetException;
import dev.ipc.internal.Refusals;
import java.io.EOFException;
import java.io.IOException;
import java.net.ProtocolException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection of an {@link IpcServer}: its hello, its requests, its outbox, its timeouts, and its end. It runs on
 * the connection's thread ({@link #run()}), and speaks to its server only through its {@link Context}.
 *
 * <p>Every frame it sends after the hello goes through the outbox, in the order it was queued, so that the order the
 * protocol promises holds: replies before the ERROR that ends a connection, the GOAWAY before the end of the output,
 * and nothing after it. The output is shut (a FIN, or TLS's close_notify) once the session is ending or draining and
 * every request taken is answered and written.
 */
final class ServerSession {

    private static final Logger LOG = LoggerFactory.getLogger(ServerSession.class);
    /** How many refusals (ERROR frames of requests not taken) may wait to be written before the reader waits. */
    private static final int MAX_QUEUED_REFUSALS = 64;
    /**
     * Why a stream ends at the server's shutdown: its CANCELLED says the stream may be asked for again, on a new
     * connection (to this server restarted, or another), as a request the GOAWAY left out may be sent again.
     */
    static final String STREAM_AT_SHUTDOWN =
            "the server is shutting down: the stream ends here; ask for it again on a new connection";

    /** How long a timed-out session's ERROR may take to go out before the watchdog closes the connection anyway. */
    private static final long TIMEOUT_ERROR_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** What the sessions of one server share: its limits, budget, counters, places, handler, threads and listeners. */
    record Context(
            String endpoint,
            String name,
            ServerLimits limits,
            MemoryBudget memory,
            ServerCounters counters,
            Places places,
            HandshakeSlots helloSlots,
            IpcServer.AsyncRequestHandler handler,
            IpcServer.Events events, // null for none
            Executor workers,
            ScheduledExecutorService timer,
            Runnable changed) { // told when a session settles or ends

        /** A connection was refused before its WELCOME: counted, and the events listener told. */
        void refused(String peer, ErrorCode code, String why) {
            counters.refused(code);
            tell(listener -> listener.connectionRefused(peer, code, why));
        }

        /** Tells the events listener, if there is one; what it throws is logged and goes no further. */
        void tell(Consumer<IpcServer.Events> event) {
            if (events != null) {
                try {
                    event.accept(events);
                } catch (RuntimeException e) {
                    LOG.warn("the events listener of {} failed", endpoint, e);
                }
            }
        }
    }

    /**
     * A frame waiting in the outbox, whether writing it answers a request taken, and the bytes of the memory budget to
     * release once it is written (its own, and its request's).
     */
    private record Outgoing(byte[] frame, boolean answers, long release, Runnable written) {}

    final FramedConnection connection;
    final String peer;
    private final Context context;
    private final ServerLimits limits;
    private final MemoryBudget memory;
    private final long acceptedAt = System.nanoTime();
    private volatile long lastActivity = System.nanoTime();
    private final AtomicBoolean finished = new AtomicBoolean();
    /** Its place among the connections before their hello; set before the session's thread starts. */
    HandshakeSlots.Slot helloSlot;

    private volatile boolean pushedOut; // before its hello, for newer connections past maxHandshakes
    /** Counted against maxConnections (and its peer's); guarded by the places. */
    volatile boolean counted;

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
    private int holding; // of those, the ones whose handler has not returned: each may hold a worker

    private final ConcurrentLinkedQueue<Outgoing> outbox = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean writing = new AtomicBoolean();

    // Watchdog state: the write seen in progress, and since when (only the watchdog thread uses these).
    private long stalledWrite = -1;
    private long stalledSince;
    /** When the session was cut off (timed out, or gave way), or 0. */
    private volatile long cutOffAt;

    /** Where the requests' streams queue their messages. */
    private final Request.Sink sink = new Request.Sink() {
        @Override
        public void stream(Request request, byte[] message) {
            streamMessage(request, message);
        }

        @Override
        public boolean offer(Request request, byte[] message, Runnable written) {
            return offerMessage(request, message, written);
        }

        @Override
        public void flush() {
            ServerSession.this.flush();
        }

        @Override
        public int maxPayload() {
            return limits.maxPayload;
        }

        @Override
        public ScheduledExecutorService timer() {
            return context.timer();
        }
    };

    ServerSession(FramedConnection connection, String peer, Context context) {
        this.connection = connection;
        this.peer = peer;
        this.context = context;
        this.limits = context.limits();
        this.memory = context.memory();
    }

    /** The connection options of a server's listener: frames of a payload and the REQUEST header around it. */
    static ConnectionOptions connectionOptions(ServerOptions options) {
        int maxPayload = options.get(ConnectionOptions.MAX_FRAME_SIZE);
        return ConnectionOptions.takenFrom(options)
                .set(ConnectionOptions.MAX_FRAME_SIZE, Codec.frameLimit(maxPayload, Codec.VERSION))
                .build();
    }

    /** When the session last read or wrote a frame (System.nanoTime()). */
    long lastActivity() {
        return lastActivity;
    }

    /**
     * How many requests that may answer with a stream have a handler that has not returned, waiting for a worker or
     * running: the pool of a JDK without virtual threads grows by them at the next tick, since a handler that streams
     * with {@link ReplyStream#send} holds its worker while it waits. One that answers with
     * {@link Request#stream(java.util.concurrent.Flow.Publisher)} returns at once and holds none.
     */
    int openStreams() {
        synchronized (lock) {
            return holding;
        }
    }

    /** Serves the connection to its end, on the calling thread; closes it and gives back its places when done. */
    void run() {
        try {
            if (hello()) {
                serve();
                // The peer's end of stream: its replies still go out, then the close. Its streams end now: it can send
                // no CREDIT or CANCEL any more, so nothing would ever end them.
                inputEnded = true;
                cancelStreams("its client ended its side of the connection");
                end(null);
            }
        } catch (FrameTooLargeException e) {
            // The limit the client knows is the WELCOME's, on payloads; a REQUEST adds its header (5 or 13 bytes).
            int spoken = spokenVersion();
            String why = "a frame of " + e.declared() + " bytes is over the largest this server takes, "
                    + Codec.frameLimit(limits.maxPayload, spoken) + " (a payload of at most maxFrameSize "
                    + limits.maxPayload + " bytes, plus " + Codec.requestOverhead(spoken) + ")";
            LOG.info("closing {}: {}", connection, why);
            endOrRefuse(new Frame.Error(0, ErrorCode.FRAME_TOO_LARGE, why));
        } catch (ProtocolException e) {
            LOG.info("closing {}: {}", connection, e.getMessage());
            endOrRefuse(new Frame.Error(0, ErrorCode.PROTOCOL_ERROR, e.getMessage()));
        } catch (IOException e) {
            if (pushedOut) {
                byte[] why = Codec.error(
                        0, ErrorCode.TOO_MANY_CONNECTIONS, context.helloSlots().pushedOutMessage());
                connection.finish(why, Duration.ZERO);
            } else {
                LOG.debug("connection {} ended: {}", connection, e.toString());
            }
        } finally {
            connection.abort();
            finish();
        }
    }

    /**
     * Reads the hello, takes a place and answers WELCOME; false if the connection was refused (and told why).
     *
     * @throws IOException if the hello is malformed or the connection fails
     */
    private boolean hello() throws IOException {
        int asked = Codec.readHello(connection.input()).version();
        if (!helloSlot.release()) {
            // Pushed out by a newer connection: its push-out may not have run yet (it runs after the slots' lock), so
            // the flag is set here too, and run() answers with the ERROR rather than a silent close.
            pushedOut = true;
            throw new EOFException("pushed out");
        }
        int spoken = Codec.negotiate(asked);
        if (spoken < 0) {
            String why = "protocol version " + asked + " is not spoken here; this server speaks versions "
                    + Codec.OLDEST_VERSION + " to " + Codec.VERSION;
            context.refused(connection.remote(), ErrorCode.UNSUPPORTED_VERSION, why);
            connection.finish(Codec.error(0, ErrorCode.UNSUPPORTED_VERSION, why), Refusals.LINGER);
            return false;
        }
        String full = context.places().take(this);
        if (full != null) {
            LOG.debug("refused a connection on {}: {}", context.endpoint(), full);
            context.refused(connection.remote(), ErrorCode.TOO_MANY_CONNECTIONS, full);
            connection.finish(Codec.error(0, ErrorCode.TOO_MANY_CONNECTIONS, full), Refusals.LINGER);
            return false;
        }
        lastActivity = System.nanoTime(); // silent from its HELLO on: one that waited long for a place is not idle yet
        context.tell(listener -> listener.connectionOpened(connection.peer()));
        connection.answerViolations();
        connection.budget(memory);
        connection.limitIncoming(Codec.frameLimit(limits.maxPayload, spoken));
        synchronized (lock) {
            version = spoken;
            queue(new Frame.Welcome(spoken, limits.maxPayload, limits.maxInFlight), false, 0);
            if (draining) {
                // Closing began before the hello: this client learns it at once, and nothing was taken.
                queue(new Frame.GoAway(0, "the server is shutting down"), false, 0);
            }
        }
        flush();
        lastActivity = System.nanoTime();
        return true;
    }

    /** Reads and acts on frames until the client ends its side. */
    private void serve() throws IOException {
        for (byte[] bytes = next(); bytes != null; bytes = next()) {
            lastActivity = System.nanoTime();
            context.counters().bytesIn.add(bytes.length + 4L);
            Frame frame;
            try {
                if (bytes.length > 0 && !isClientFrame(bytes[0])) {
                    throw notARequest(Codec.name(bytes[0]) + " (" + bytes.length + " bytes)");
                }
                frame = Codec.decode(bytes, version);
                if (frame instanceof Frame.Request request) {
                    dispatch(request, bytes.length);
                    continue;
                }
            } catch (ProtocolException e) {
                memory.release(bytes.length); // not taken
                throw e;
            }
            // A CANCEL or CREDIT is done with once read: released here, and only here.
            memory.release(bytes.length);
            if (frame instanceof Frame.Cancel cancel) {
                Request cancelled = taken(cancel.id());
                if (cancelled != null) {
                    cancelled.cancel("its client cancelled it");
                }
            } else if (frame instanceof Frame.Credit credit) {
                Request granted = taken(credit.id());
                if (granted != null) {
                    granted.grant(credit.count());
                }
            }
        }
    }

    private static boolean isClientFrame(byte type) {
        return type == Codec.REQUEST || type == Codec.CANCEL || type == Codec.CREDIT;
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
                int id = Codec.requestIdOf(e.head(), e.length());
                if (id == 0) {
                    throw idZero();
                }
                LOG.debug("dropped a request of {} bytes on {}: {}", e.length(), connection, e.getMessage());
                String why = "the server holds its most bytes of requests and replies (maxBufferedBytes "
                        + memory.limit() + "): this request of " + (e.length() - Codec.requestOverhead(version))
                        + " bytes was dropped and did not run; send it again later";
                synchronized (lock) {
                    queue(new Frame.Error(id, ErrorCode.TOO_MANY_REQUESTS, why), false, 0);
                }
                flush();
                awaitRoomForRefusals();
            }
        }
    }

    private ProtocolException notARequest(String what) {
        return new ProtocolException(
                Codec.hasStreams(spokenVersion())
                        ? "a version 3 client sends only REQUEST (type 3, at least 13 bytes), CANCEL (type 11, 5 "
                                + "bytes) and CREDIT (type 13, 9 bytes) frames after the hello, not " + what
                        : "a client sends only REQUEST frames (type 3) after the hello, not " + what);
    }

    private int spokenVersion() {
        synchronized (lock) {
            return version == 0 ? Codec.VERSION : version;
        }
    }

    /** The request taken with {@code id} and not yet answered, or null. */
    private Request taken(int id) {
        synchronized (lock) {
            return running.get(id);
        }
    }

    private static ProtocolException idZero() {
        return new ProtocolException("request id 0 is reserved for errors about the connection");
    }

    /** Takes a request, or answers at once why not. */
    private void dispatch(Frame.Request frame, long requestBytes) throws IOException {
        int id = frame.id();
        if (id == 0) {
            throw idZero();
        }
        // Made outside the lock, by the thread that set the version.
        Request request =
                new Request(frame.payload(), connection.peer(), id, frame.timeoutMillis(), frame.window(), sink);
        Frame.Error refusal;
        synchronized (lock) {
            refusal = take(request);
            if (refusal != null) {
                queue(refusal, false, 0);
            }
        }
        if (refusal != null) {
            memory.release(requestBytes);
            flush();
            awaitRoomForRefusals();
            return;
        }
        long arrived = context.events() == null ? 0 : System.nanoTime();
        if (limits.directHandlers && !request.acceptsStream()) {
            handle(request, requestBytes, arrived); // no hand-off: this thread reads again once it returns
            return;
        }
        try {
            context.workers().execute(() -> handle(request, requestBytes, arrived));
        } catch (RuntimeException e) {
            returned(request);
            reply(request, requestBytes, null, e, arrived);
        }
    }

    /**
     * Takes {@code request} in flight, or says why not (the ERROR to answer it with); under the lock.
     *
     * @throws ProtocolException if its id is in flight already
     */
    private Frame.Error take(Request request) throws ProtocolException {
        int id = request.id();
        if (running.containsKey(id)) {
            throw new ProtocolException("request id " + Integer.toUnsignedString(id) + " is already in flight on this "
                    + "connection; an id is reused only after its reply");
        }
        if (draining) {
            return new Frame.Error(
                    id,
                    ErrorCode.SHUTTING_DOWN,
                    "the server is shutting down; this request did not run (the GOAWAY named the last one that does)");
        }
        if (unanswered >= limits.maxInFlight) {
            return new Frame.Error(
                    id,
                    ErrorCode.TOO_MANY_REQUESTS,
                    "this connection has its maximum of " + limits.maxInFlight + " requests in flight");
        }
        if (request.acceptsStream()) {
            // Each request that may answer with a stream may hold a worker for as long as it streams.
            String why = limits.maxStreamsPerConnection > 0 && streams >= limits.maxStreamsPerConnection
                    ? "this connection has its maximum of " + limits.maxStreamsPerConnection + " requests that may "
                            + "answer with a stream in flight (maxStreamsPerConnection)"
                    : context.places().takeStream(peer);
            if (why != null) {
                return new Frame.Error(id, ErrorCode.TOO_MANY_REQUESTS, why);
            }
            streams++;
            holding++;
        }
        running.put(id, request);
        unanswered++;
        lastTaken = id;
        context.counters().requests.increment();
        context.counters().inFlight.increment();
        return null;
    }

    /** Runs the handler on this thread, and queues its reply once its stage completes. */
    private void handle(Request request, long requestBytes, long arrived) {
        if (request.isCancelled()) {
            // Cancelled, or past its deadline, while it waited for a worker: answered CANCELLED, never run.
            returned(request);
            reply(request, requestBytes, null, null, arrived);
            return;
        }
        CompletionStage<byte[]> reply;
        try {
            reply = context.handler().handle(request);
        } catch (Throwable t) {
            reply = CompletableFuture.failedFuture(t);
        } finally {
            returned(request);
        }
        CompletionStage<byte[]> answered = reply == null ? CompletableFuture.completedFuture(null) : reply;
        answered.whenComplete((answer, failure) -> reply(request, requestBytes, answer, failure, arrived));
    }

    /** The handler of {@code request} has returned: it holds no worker any more. */
    private void returned(Request request) {
        if (request.acceptsStream()) {
            synchronized (lock) {
                holding--;
            }
        }
    }

    /** Queues a request's reply; its bytes, and the request's ({@code requestBytes}), count until it is written. */
    private void reply(Request request, long requestBytes, byte[] answer, Throwable failure, long arrived) {
        Frame frame;
        try {
            frame = answer(request, answer, failure);
        } catch (RuntimeException | Error e) {
            frame = internal(request.id(), "the reply could not be made", e);
        }
        byte[] bytes = encode(frame);
        memory.add(bytes.length);
        synchronized (lock) {
            running.remove(request.id()); // before the write: a client may reuse the id as soon as it reads the reply
            if (request.acceptsStream()) {
                streams--;
                context.places().giveBackStream(peer);
            }
            queue(frame, bytes, true, requestBytes + bytes.length);
        }
        context.counters().inFlight.decrement();
        flush();
        if (context.events() != null) {
            ErrorCode error = frame instanceof Frame.Error refusal ? refusal.errorCode() : null;
            long nanos = System.nanoTime() - arrived;
            context.tell(listener -> listener.requestAnswered(request, error, nanos));
        }
    }

    /** The frame that answers {@code request}: CANCELLED if it was, the end of its stream, or the handler's answer. */
    private Frame answer(Request request, byte[] answer, Throwable failure) {
        int id = request.id();
        // Its stream, if any, takes no more messages: this frame is its last.
        String cancelled = request.answered();
        if (cancelled != null) {
            LOG.debug(
                    "request {} on {} was cancelled ({}); its {} is dropped",
                    id,
                    connection,
                    cancelled,
                    failure == null ? "reply" : "failure " + failure);
            return new Frame.Error(id, ErrorCode.CANCELLED, "the request was cancelled: " + cancelled);
        }
        if (answer == null && failure == null && request.streamOpened()) {
            return new Frame.Response(id, new byte[0]); // the end of the stream
        }
        if (failure != null) {
            Throwable cause =
                    failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
            if (cause instanceof ApplicationException) {
                ApplicationException error = (ApplicationException) cause;
                return new Frame.Error(id, error.applicationCode(), error.remoteMessage());
            }
            return internal(id, "the handler failed", cause);
        }
        if (answer == null) {
            return internal(id, "the handler returned no reply (null)", null);
        }
        if (answer.length > limits.maxPayload) {
            return new Frame.Error(
                    id,
                    ErrorCode.FRAME_TOO_LARGE,
                    "the reply of " + answer.length + " bytes is over maxFrameSize " + limits.maxPayload);
        }
        return new Frame.Response(id, answer);
    }

    /**
     * An INTERNAL error for request {@code id}: the caller learns only an incident id; the log has it with the cause
     * and its stack trace, at WARN, since a handler that fails unexpectedly is a bug to look at.
     */
    private Frame internal(int id, String what, Throwable cause) {
        String incident = String.format("%08x", ThreadLocalRandom.current().nextInt());
        LOG.warn(
                "{} on request {} from {} on {} (incident {})",
                what,
                id,
                peer == null ? connection.remote() : peer,
                context.endpoint(),
                incident,
                cause);
        return new Frame.Error(
                id,
                ErrorCode.INTERNAL,
                "the server failed on this request; its log names the cause as incident " + incident);
    }

    /**
     * Queues one message of {@code request}'s stream once the outbox has room (as for refusals: no more frames wait
     * than replies in flight and {@link #MAX_QUEUED_REFUSALS}) and the memory budget takes it. A stream opened while
     * the server shuts down is cancelled: it would never end by itself.
     */
    private void streamMessage(Request request, byte[] message) {
        Frame frame = new Frame.Stream(request.id(), message);
        byte[] bytes = encode(frame);
        if (inputEnded) {
            request.cancel("its client ended its side of the connection");
        }
        synchronized (lock) {
            while (!draining) {
                if (running.get(request.id()) != request) {
                    throw new IllegalStateException(
                            "request " + request.id() + " is already answered: its stream is over");
                }
                String why = request.cancelledBecause();
                if (why != null) {
                    throw new CancellationException("request " + request.id() + " was cancelled: " + why);
                }
                if (outputShut || !connection.isOpen()) {
                    request.cancel("its connection ended");
                    continue;
                }
                if (queued <= unanswered + MAX_QUEUED_REFUSALS && memory.tryReserve(bytes.length)) {
                    queue(frame, bytes, false, bytes.length);
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
        request.cancel(STREAM_AT_SHUTDOWN);
        throw new CancellationException("request " + request.id() + " was cancelled: the server is shutting down, and "
                + "a stream would not end by itself");
    }

    /**
     * Queues one message of a published stream if the memory budget takes it, without waiting: its stream asks for no
     * more than {@link PublishedStream#AHEAD} ahead, so the outbox holds a bounded number of them. A stream whose
     * connection is ending is cancelled.
     */
    private boolean offerMessage(Request request, byte[] message, Runnable written) {
        if (message.length > limits.maxPayload) {
            throw new IllegalArgumentException(
                    "a message of " + message.length + " bytes is over maxFrameSize " + limits.maxPayload);
        }
        Frame frame = new Frame.Stream(request.id(), message);
        byte[] bytes = encode(frame);
        boolean ending = false;
        synchronized (lock) {
            if (running.get(request.id()) != request) {
                throw new IllegalStateException("request " + request.id() + " is already answered: its stream is over");
            }
            if (draining || outputShut || inputEnded || !connection.isOpen()) {
                ending = true;
            } else if (!memory.tryReserve(bytes.length)) {
                return false;
            } else {
                queue(frame, bytes, false, bytes.length, written);
            }
        }
        if (ending) {
            request.cancel(draining ? STREAM_AT_SHUTDOWN : "its connection ended");
            return true; // dropped: the cancellation ends the stream
        }
        flush();
        return true;
    }

    /** Cancels the requests that answer with a stream, for {@code why}. */
    private void cancelStreams(String why) {
        List<Request> open = new ArrayList<>();
        synchronized (lock) {
            for (Request request : running.values()) {
                if (request.streamOpened()) {
                    open.add(request);
                }
            }
        }
        open.forEach(request -> request.cancel(why));
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

    /** The bytes of {@code frame} in the version spoken (the newest before the hello). */
    private byte[] encode(Frame frame) {
        return Codec.encode(frame, version == 0 ? Codec.VERSION : version);
    }

    /** Queues {@code frame}, which answers nothing and holds nothing of the budget; the caller holds the lock. */
    private void queue(Frame frame, boolean answers, long release) {
        queue(frame, encode(frame), answers, release);
    }

    /**
     * Queues a frame behind those queued before it; the caller holds the lock. Dropped once the output is shut.
     *
     * @param release the bytes of the memory budget to release once it is written (or dropped)
     */
    private void queue(Frame frame, byte[] bytes, boolean answers, long release) {
        queue(frame, bytes, answers, release, null);
    }

    /** As above; {@code written} (if not null) runs once the frame is written or dropped, off the lock. */
    private void queue(Frame frame, byte[] bytes, boolean answers, long release, Runnable written) {
        if (outputShut) {
            if (answers) {
                unanswered--; // cut off by a forced close: nobody will read it
            }
            memory.release(release);
            if (written != null) {
                context.workers().execute(written); // never under the lock, which its stream's next offer takes
            }
            return;
        }
        queued++;
        context.counters().bytesOut.add(bytes.length + 4L);
        if (frame instanceof Frame.Error error) {
            context.counters().error(error.errorCode());
        }
        outbox.add(new Outgoing(bytes, answers, release, written));
    }

    /**
     * Writes what is queued, one thread at a time: a thread that finds another writing leaves its frame and returns, so
     * a peer that stops reading holds one thread, not the pool. A reply counts against maxInFlight until its write
     * begins, which bounds the replies waiting here; the reader waits before it queues more refusals than
     * {@link #MAX_QUEUED_REFUSALS}. Then shuts the output if the session's end has come.
     */
    void flush() {
        while (!outbox.isEmpty() && writing.compareAndSet(false, true)) {
            try {
                for (Outgoing next = outbox.poll(); next != null; next = outbox.poll()) {
                    write(next);
                }
            } finally {
                writing.set(false);
            }
        }
        shutOutputIfDone();
    }

    private void write(Outgoing next) {
        if (next.answers()) {
            synchronized (lock) {
                unanswered--; // before the write: the client may send another as soon as it reads this reply
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
            if (next.written() != null) {
                next.written().run();
            }
        }
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
        context.changed().run();
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
     * Ends the session from its own thread: the requests taken are answered first, then {@code lastFrame} (an ERROR, or
     * nothing at the peer's end of stream) goes out, the output is shut, and a peer that may still be sending is read
     * to its end (or for a moment) so that the close loses nothing it was sent. Before an ERROR, the streams open are
     * cancelled: they would not end by themselves, and each is answered CANCELLED before the ERROR.
     */
    private void end(Frame.Error lastFrame) {
        if (lastFrame != null) {
            cancelStreams("the connection ends: " + lastFrame.message());
        }
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
    private void endOrRefuse(Frame.Error error) {
        boolean welcomed;
        synchronized (lock) {
            welcomed = version != 0;
        }
        if (welcomed) {
            end(error);
        } else {
            connection.finish(Codec.error(0, error.errorCode(), error.message()), Refusals.LINGER);
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
     * Tells the client GOAWAY, naming the last request taken: every request up to it (in the order they were sent) is
     * answered, none after it runs. Returns at once; the frame is written on a thread of its own when no writer is at
     * work, so that a client that reads nothing can't hold up the server's close.
     */
    void goAway() {
        synchronized (lock) {
            if (draining) {
                return;
            }
            draining = true;
            if (version != 0) {
                queue(new Frame.GoAway(lastTaken, "the server is shutting down"), false, 0);
            }
        }
        // A stream (a watch, a tail) would not end by itself: it ends now, its client told CANCELLED.
        cancelStreams(STREAM_AT_SHUTDOWN);
        try {
            connection
                    .threads(context.name() + "-goaway")
                    .newThread(this::flush)
                    .start();
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
        boolean stalled = writeStalled(now);
        if (!connection.isOpen()) {
            return false;
        }
        int spoken;
        int taken;
        synchronized (lock) {
            spoken = version;
            taken = unanswered;
        }
        if (spoken == 0) {
            if (ServerLimits.expired(limits.handshakeTimeout, acceptedAt, now)) {
                timeOut("no hello within handshakeTimeout " + limits.handshakeTimeout);
            }
            return stalled;
        }
        long partial = connection.partialFrameSince();
        if (partial != 0 && ServerLimits.expired(limits.frameTimeout, partial, now)) {
            timeOut("a frame stopped arriving half way for frameTimeout " + limits.frameTimeout);
        } else if (partial == 0 && taken == 0 && ServerLimits.expired(limits.idleTimeout, lastActivity, now)) {
            timeOut("idle for idleTimeout " + limits.idleTimeout);
        }
        return stalled;
    }

    /**
     * Whether a write has been in progress since the last tick; one stalled for writeTimeout closes the connection:
     * nothing can be sent to say why, the peer is not reading, and closing frees the blocked writer.
     */
    private boolean writeStalled(long now) {
        long writes = connection.writeCount();
        if ((writes & 1) == 0) {
            stalledWrite = -1; // no write in progress
            return false;
        }
        if (writes != stalledWrite) {
            stalledWrite = writes; // a write in progress, first seen now
            stalledSince = now;
            return false;
        }
        if (!ServerLimits.expired(limits.writeTimeout, stalledSince, now)) {
            return true;
        }
        LOG.info(
                "closing {}: a write to {} stalled for writeTimeout {} (the peer reads nothing)",
                connection,
                peer == null ? "the peer" : peer,
                limits.writeTimeout);
        connection.abort();
        return false;
    }

    /**
     * Ends the session for a timeout, or to give way to a newer connection. The watchdog and the accepting threads
     * serve every connection, so they never write here: a write may wait on the peer, or on a lock that a writer stuck
     * on the peer holds. A thread of the session's sends the ERROR and closes; the watchdog closes anyway at a later
     * tick if that has not happened within a second. Once only.
     */
    private void cutOff(ErrorCode code, String why) {
        synchronized (lock) {
            if (cutOffAt != 0) {
                return; // the watchdog and a newcomer may both come for it
            }
            cutOffAt = System.nanoTime() | 1; // never 0
        }
        LOG.debug("closing {}: {}", connection, why);
        byte[] error = Codec.error(0, code, why);
        try {
            connection
                    .threads(context.name() + "-cut-off")
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
     * Whether the session may give way to a newer connection: past its hello, nothing in flight, nothing half received,
     * and silent for {@link Places#IDLE_BEFORE_GIVING_WAY_NANOS} at least; the caller holds the places.
     */
    boolean idleSince(long now) {
        if (!counted
                || cutOffAt != 0
                || draining
                || ending
                || connection.partialFrameSince() != 0
                || now - lastActivity < Places.IDLE_BEFORE_GIVING_WAY_NANOS) {
            return false;
        }
        synchronized (lock) {
            return version != 0 && unanswered == 0 && queued == 0;
        }
    }

    /** Gives the session's place to a newer connection, and ends it saying why; the caller holds the places. */
    void giveWay(String why) {
        LOG.debug("{} on {}: {}", connection, context.endpoint(), why);
        leavePlaces();
        context.counters().error(ErrorCode.TOO_MANY_CONNECTIONS);
        cutOff(ErrorCode.TOO_MANY_CONNECTIONS, why);
    }

    private void leavePlaces() {
        if (context.places().giveBack(this)) {
            context.tell(listener -> listener.connectionClosed(connection.peer()));
        }
    }

    /** Once the connection is over: its requests are cancelled, its places given back, its server told. */
    void finish() {
        if (finished.compareAndSet(false, true)) {
            List<Request> left;
            synchronized (lock) {
                left = new ArrayList<>(running.values());
            }
            left.forEach(request -> request.cancel("its connection ended"));
            context.places().sessions.remove(this);
            if (helloSlot != null) {
                helloSlot.release();
            }
            leavePlaces();
            synchronized (lock) {
                lock.notifyAll();
            }
            context.changed().run();
        }
    }
}
