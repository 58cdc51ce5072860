package dev.ipc;

import dev.ipc.internal.Closer;
import dev.ipc.internal.Codec;
import dev.ipc.internal.Frame;
import dev.ipc.internal.FramedConnection;
import java.io.EOFException;
import java.io.IOException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection of an {@link IpcClient} and the calls in flight on it: the handshake, the client's side of the
 * protocol (requests, CANCEL and CREDIT out; replies, stream messages, errors and GOAWAY in), the places among the
 * server's requests in flight, and what happens to each call when the connection ends. It reads on a thread of its own
 * ({@link #start}); it knows nothing of reconnecting, which is the client's.
 */
final class ClientSession {

    private static final Logger LOG = LoggerFactory.getLogger(ClientSession.class);

    /** What a session needs of its client beyond the connection. */
    record Setup(
            String endpoint,
            int maxQueued,
            Executor deferred, // sends the calls that waited for a place: never the reader's thread
            Consumer<ClientSession> ended) {}

    final String endpoint;
    final FramedConnection connection;
    final int version;
    final int maxPayload;
    /** The WELCOME's limit on requests in flight; 0 where the server states none (version 1). */
    final int maxInFlight;

    private final Setup setup;
    private final AtomicInteger ids = new AtomicInteger();
    final Map<Integer, Call> pending = new ConcurrentHashMap<>();
    private volatile boolean goingAway;
    /** The last request the server takes, as its GOAWAY said; -1 before a GOAWAY, or from a version 1 server. */
    private volatile long lastTaken = -1;

    private volatile boolean dead;
    private Thread reader;

    private int places; // free places among the requests in flight; guarded by waiting
    private final ArrayDeque<Call> waiting = new ArrayDeque<>(); // calls waiting for a place, in order

    ClientSession(FramedConnection connection, Frame.Welcome welcome, int maxPayload, Setup setup) {
        this.endpoint = setup.endpoint();
        this.connection = connection;
        this.version = welcome.version();
        this.maxPayload = Math.min(welcome.maxPayload(), maxPayload);
        this.maxInFlight = welcome.maxInFlight();
        this.places = maxInFlight;
        this.setup = setup;
    }

    /** The connection options for a client's connection: room for its requests, and for the server's ERROR frames. */
    static ConnectionOptions connectionOptions(ClientOptions options) {
        int frames = Codec.frameLimit(options.get(ConnectionOptions.MAX_FRAME_SIZE), Codec.VERSION);
        return ConnectionOptions.takenFrom(options)
                .set(ConnectionOptions.MAX_FRAME_SIZE, Math.max(frames, Codec.MAX_HELLO + 1024))
                .build();
    }

    /**
     * Says hello on a fresh connection and reads the WELCOME, within {@code timeout} (zero for none); the connection is
     * closed if that fails.
     *
     * @throws RemoteException if the server refused the connection
     * @throws SocketTimeoutException if no answer came in time
     */
    static ClientSession handshake(FramedConnection connection, Duration timeout, int maxPayload, Setup setup)
            throws IOException {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (!timeout.isZero()) {
            CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS, Runnable::run)
                    .execute(() -> {
                        if (done.complete(null)) {
                            Closer.closeQuietly(connection, null);
                        }
                    });
        }
        try {
            connection.send(Codec.hello(Codec.VERSION));
            byte[] answer = connection.receive();
            if (answer == null) {
                throw new ConnectionLostException(
                        "the server at " + setup.endpoint() + " closed the connection during the handshake", null);
            }
            Frame first = Codec.decode(answer, Codec.VERSION);
            if (first instanceof Frame.Error refusal) {
                throw new RemoteException(refusal.errorCode(), refusal.message());
            }
            if (!(first instanceof Frame.Welcome welcome)) {
                throw new ProtocolException("expected a WELCOME frame (type 2), got " + Codec.name(first.type()));
            }
            if (!done.complete(null)) {
                throw noAnswer(setup, timeout);
            }
            LOG.debug(
                    "connected to {}: protocol version {}, payloads up to {} bytes, {} requests in flight",
                    setup.endpoint(),
                    welcome.version(),
                    welcome.maxPayload(),
                    welcome.maxInFlight() == 0 ? "unstated" : welcome.maxInFlight());
            return new ClientSession(connection, welcome, maxPayload, setup);
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(connection, e);
            if (!done.complete(null) && !(e instanceof RemoteException)) {
                SocketTimeoutException timedOut = noAnswer(setup, timeout);
                timedOut.initCause(e);
                throw timedOut;
            }
            throw e;
        }
    }

    private static SocketTimeoutException noAnswer(Setup setup, Duration timeout) {
        return new SocketTimeoutException(
                "no answer to the hello from " + setup.endpoint() + " within handshakeTimeout " + timeout);
    }

    /** Starts reading the connection on a thread named {@code name}. */
    void start(String name) {
        reader = connection.threads(name).newThread(this::read);
        reader.start();
    }

    /** Whether the server speaks streams (version 3). */
    boolean hasStreams() {
        return Codec.hasStreams(version);
    }

    /**
     * Takes a place among the requests in flight for {@code call}: true if it may be sent now, false if it waits for
     * one (a reply frees it, and it is sent then).
     *
     * @throws CallQueueFullException if {@link ClientOptions#MAX_QUEUED_CALLS} calls wait already
     */
    boolean admit(Call call) throws CallQueueFullException {
        if (maxInFlight == 0) {
            return true;
        }
        synchronized (waiting) {
            if (places > 0 && waiting.isEmpty()) {
                places--;
                return true;
            }
            if (waiting.size() >= setup.maxQueued()) {
                throw new CallQueueFullException(waiting.size() + " calls already wait for a place among the "
                        + maxInFlight + " requests in flight that " + endpoint + " allows (maxQueuedCalls "
                        + setup.maxQueued() + "); this one was not sent");
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
    void unqueue(Call call) {
        synchronized (waiting) {
            waiting.remove(call);
        }
    }

    /** Sends a call that has its place among the server's requests in flight. */
    void send(Call call) {
        byte[] request = call.request;
        call.request = null; // held only until sent
        int id = ids.updateAndGet(last -> last == Integer.MAX_VALUE ? 1 : last + 1);
        call.id = id;
        pending.put(id, call);
        // Registered after the GOAWAY was read, the request goes out after the last one the server takes.
        call.afterGoaway = goingAway;
        try {
            connection.send(
                    Codec.encode(new Frame.Request(id, call.timeoutMillisLeft(), call.window, request), version));
        } catch (IOException e) {
            lost(e);
        }
        if (call.future.isDone()) {
            cancel(call); // abandoned while it was being sent
        }
        if (dead) {
            // Lost while this call was being registered: fail it too, rather than let it wait for nothing.
            lost(new SocketException("the connection dropped"));
        }
    }

    /** A reply freed a place: the next waiting call takes it (sent off the reader's thread), or it stays free. */
    private void freePlace() {
        if (maxInFlight == 0) {
            return;
        }
        Call next;
        synchronized (waiting) {
            next = waiting.poll();
            if (next == null) {
                places++;
                return;
            }
        }
        try {
            setup.deferred().execute(() -> send(next));
        } catch (RejectedExecutionException e) {
            next.future.completeExceptionally(new NotRunException(
                    "the client of " + endpoint + " was closed before this call was sent; it did not run"));
        }
    }

    /** Sends CANCEL for a call that was sent and is not answered yet (version 3; older servers are not told). */
    void cancel(Call call) {
        int sent = call.id;
        if (sent != 0 && hasStreams() && pending.get(sent) == call && !dead) {
            sendQuietly(new Frame.Cancel(sent), "cancel request " + sent);
        }
    }

    /** Sends CREDIT for {@code count} more messages of the call's stream. */
    void credit(Call call, int count) {
        int sent = call.id;
        if (sent != 0 && pending.get(sent) == call && !dead) {
            sendQuietly(new Frame.Credit(sent, count), "grant credit on request " + sent);
        }
    }

    private void sendQuietly(Frame frame, String what) {
        try {
            connection.send(Codec.encode(frame, version));
        } catch (IOException | RuntimeException e) {
            LOG.debug("could not {} to {}: {}", what, endpoint, e.toString());
        }
    }

    /** Fails the calls still waiting for a place: none was sent, so none ran. */
    private void failWaiting(String why) {
        while (true) {
            Call next;
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

    boolean isDead() {
        return dead;
    }

    private void read() {
        try {
            for (byte[] bytes = connection.receive(); bytes != null; bytes = connection.receive()) {
                take(Codec.decode(bytes, version));
            }
            if (goingAway) {
                notRun();
            }
            lost(new EOFException("the server closed the connection"));
        } catch (IOException e) {
            lost(e);
        }
    }

    /** Acts on one frame from the server. */
    private void take(Frame frame) throws IOException {
        if (frame instanceof Frame.Response response) {
            complete(response.id(), response.payload(), null);
        } else if (frame instanceof Frame.Stream message) {
            streamed(message);
        } else if (frame instanceof Frame.Error error) {
            if (error.id() == 0) {
                throw error.toException();
            }
            complete(error.id(), null, failure(error));
        } else if (frame instanceof Frame.GoAway goAway) {
            // Every request up to the last one taken is answered before the server's end of stream; the rest fail
            // there, as not run. Reading goes on until then.
            lastTaken = goAway.lastId();
            goingAway = true;
            failWaiting("the server began to shut down");
            LOG.debug(
                    "{} is going away (last request taken: {}): {}",
                    endpoint,
                    lastTaken < 0 ? "unstated" : lastTaken,
                    goAway.message());
        } else {
            throw new ProtocolException("a server does not send " + Codec.name(frame.type()) + " frames after the "
                    + "WELCOME (from " + endpoint + ")");
        }
    }

    /** At the server's end of stream after its GOAWAY: what is still pending was not taken, so did not run. */
    private void notRun() {
        dead = true; // a call registered from now on fails as sent after the GOAWAY
        setup.ended().accept(this);
        failWaiting("the server shut down");
        // Before the close: a sender whose write the close interrupts would fail its calls as lost, not as not run.
        for (Call call : pending.values()) {
            if (pending.remove(call.id, call)) {
                call.future.completeExceptionally(new NotRunException("the server at " + endpoint + " shut down "
                        + "before it took this request (its GOAWAY named request " + lastTaken
                        + " as the last it would answer); it did not run and may be sent again"));
            }
        }
        Closer.closeQuietly(connection, null);
    }

    /**
     * The exception an ERROR fails its call with: not run for SHUTTING_DOWN; for a call with a timeout that the server
     * cancelled as its deadline passed, the same timeout the client's own timer would have given.
     */
    private IOException failure(Frame.Error error) {
        RemoteException remote = error.toException();
        if (remote.code() == ErrorCode.SHUTTING_DOWN) {
            return new NotRunException(remote.getMessage());
        }
        Call call = pending.get(error.id());
        if (remote.code() == ErrorCode.CANCELLED
                && call != null
                && call.hasDeadline
                && call.deadline - System.nanoTime() < TimeUnit.MILLISECONDS.toNanos(100)) {
            SocketTimeoutException timedOut = call.timedOut(call.timeout);
            timedOut.initCause(remote);
            return timedOut;
        }
        return remote;
    }

    /** One message of a stream; dropped if its call was abandoned (its end is still awaited). */
    private void streamed(Frame.Stream message) throws ProtocolException {
        Call call = pending.get(message.id());
        String id = Integer.toUnsignedString(message.id());
        if (call == null) {
            throw new ProtocolException(
                    "the server sent a STREAM frame for request " + id + ", which is not in flight");
        }
        if (call.stream == null) {
            throw new ProtocolException("the server sent a STREAM frame for request " + id
                    + ", whose client asked for a single reply (window 0)");
        }
        call.stream.offer(message.payload());
    }

    /** Tells the server the calls in flight are given up (the client is closing), so their handlers stop. */
    void cancelAll() {
        for (Call call : pending.values()) {
            cancel(call);
        }
    }

    private void complete(int id, byte[] reply, IOException error) {
        Call call = pending.remove(id);
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
     * Whether the server's GOAWAY said it would not take request {@code id}: sent after the last one it named. Ids rise
     * by one per call (wrapping past 2^31 - 1 to 1), so "after" is a positive difference.
     */
    private boolean notTaken(int id) {
        long last = lastTaken;
        return goingAway && last >= 0 && id - (int) last > 0;
    }

    /**
     * Fails every call in flight at once; the client reconnects for the next. After a GOAWAY, a call the server said it
     * would not take fails as not run however the stream ended (a server that stops waiting for this client to close
     * may reset the connection rather than end it).
     */
    void lost(IOException cause) {
        dead = true;
        setup.ended().accept(this);
        Closer.closeQuietly(connection, cause);
        failWaiting("the connection dropped (" + cause.getMessage() + ")");
        if (!pending.isEmpty()) {
            LOG.debug("connection to {} lost with {} calls in flight: {}", endpoint, pending.size(), cause.toString());
        }
        for (Call call : pending.values()) {
            if (pending.remove(call.id, call)) {
                call.future.completeExceptionally(lostCall(call, cause));
            }
        }
    }

    private IOException lostCall(Call call, IOException cause) {
        if (cause instanceof RemoteException) {
            return cause;
        }
        if (call.afterGoaway || notTaken(call.id)) {
            return new NotRunException("the connection to " + endpoint + " was lost after the server's GOAWAY, before"
                    + " this request could be taken; it did not run and may be sent again: " + cause.getMessage());
        }
        return new ConnectionLostException(
                "the connection to " + endpoint + " was lost before the reply: " + cause.getMessage(), cause);
    }

    /** Ends the session: its calls in flight fail as lost. */
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
