package dev.ipc;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request as an {@link IpcServer}'s handler sees it: its payload, who sent it, its id, its deadline, whether its
 * caller still wants it, and (for a caller that reads a stream) the stream of replies.
 *
 * <p>{@link #peer()} holds what the transport proved about the caller: uid, gid and pid on a socket file with the
 * junixsocket backend (and on systemd's sockets); the user and group names, with their uid and gid as the account files
 * ({@code /etc/passwd}, {@code /etc/group}) give them, with the JDK's backend; the certificate's subject over TLS with
 * client certificates; nothing over plain TCP. A handler that authorises by uid should state the backend (or rely on
 * the account files) and refuse a caller whose uid is unknown:
 *
 * <pre>{@code
 * IpcServer.builder(endpoint)
 *         .requestHandler(request -> {
 *             if (request.peer().uid().orElse(-1) != 0) {
 *                 throw new ApplicationException(1403, "only root may set the status");
 *             }
 *             return set(request.payload());
 *         })
 * }</pre>
 *
 * <p><b>Deadline and cancellation.</b> A client of protocol version 3 (this library's) sends with each request how long
 * it will wait: {@link #deadline()} is when that runs out, measured from the request's arrival. The request is
 * {@linkplain #isCancelled() cancelled} once its client sends CANCEL (its call timed out, was cancelled, or the client
 * closed), once its deadline passes, or once its connection ends. A cancelled request is answered ERROR
 * {@link ErrorCode#CANCELLED} whatever its handler returns: the reply is dropped. A handler doing long work should look
 * at {@link #isCancelled()} now and then, or register {@link #onCancel(Runnable)}, and stop.
 *
 * <p><b>Streams.</b> A caller that reads a stream ({@link IpcClient#stream(byte[])}) lets the handler answer with many
 * messages: {@link #openStream()} gives a {@link ReplyStream} to send them on, each sent as the caller is ready for it
 * (a slow reader slows the handler, never fills the server's memory). The handler's return then ends the stream: a
 * non-empty array is its last message, null or an empty one adds nothing; a thrown {@link ApplicationException} ends it
 * with that error.
 */
public final class Request {

    private static final Logger LOG = LoggerFactory.getLogger(Request.class);

    /** Where a request's stream goes: the server's session; package-private, the server makes it. */
    interface Sink {
        /**
         * Queues one STREAM frame for {@code request}, waiting while the connection's output or the server's memory is
         * full.
         *
         * @throws CancellationException if the request is cancelled meanwhile
         * @throws IllegalStateException if it was answered meanwhile
         */
        void stream(Request request, byte[] message);

        /**
         * Queues one STREAM frame for {@code request} if the memory budget has room, without waiting; {@code written}
         * runs once it is written (or dropped). False if the budget is full: nothing was queued.
         *
         * @throws IllegalStateException if the request was answered meanwhile
         * @throws IllegalArgumentException if the message is over the largest the client takes
         */
        boolean offer(Request request, byte[] message, Runnable written);

        /** Writes what is queued (not under the request's lock: a write may take as long as the peer makes it). */
        void flush();

        /** The largest message the client takes. */
        int maxPayload();

        /** Where a deadline is watched for {@link #onCancel}. */
        ScheduledExecutorService timer();
    }

    private final byte[] payload;
    private final PeerCredentials peer;
    private final int id;
    private final long deadlineNanos; // System.nanoTime() at the deadline; meaningful only if hasDeadline
    private final boolean hasDeadline;
    private final long window; // STREAM frames the client takes at first; 0 for a single reply
    private final Sink sink; // null for a request made by hand

    /** Held by one sender of the stream at a time, so that its messages leave in turn. */
    private final ReentrantLock sending = new ReentrantLock();

    private final Object lock = new Object();
    // Guarded by lock.
    private String cancelled; // why, once cancelled by the client or the connection; null before
    private List<Runnable> onCancel;
    private long credit;
    private ReplyStream stream;
    private boolean answered;
    private boolean deadlineWatched;
    private Future<?> deadlineTask; // the timer's task for onCancel, cancelled once it is not needed
    private PublishedStream published; // the stream's publisher's subscriber, for stream(Publisher)

    /** A request with no deadline, for a caller that takes a single reply; tests and adapters may make them. */
    public Request(byte[] payload, PeerCredentials peer, int id) {
        this(payload, peer, id, 0, 0, null);
    }

    /** A request as it arrived: {@code timeoutMillis} (0 for none) counts from now. */
    Request(byte[] payload, PeerCredentials peer, int id, long timeoutMillis, long window, Sink sink) {
        this.payload = Objects.requireNonNull(payload, "payload");
        this.peer = Objects.requireNonNull(peer, "peer");
        this.id = id;
        this.hasDeadline = timeoutMillis > 0;
        this.deadlineNanos = hasDeadline ? System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis) : 0;
        this.window = window;
        this.credit = window;
        this.sink = sink;
    }

    /** The request's bytes (the array itself: the handler owns it). */
    public byte[] payload() {
        return payload;
    }

    /** Who sent it, as far as the transport tells. */
    public PeerCredentials peer() {
        return peer;
    }

    /** Its id on its connection, as the client numbered it (for logs). */
    public int id() {
        return id;
    }

    /**
     * When its client stops waiting for the answer (by this machine's clock: its arrival plus the timeout the client
     * sent); empty if the client set none, or speaks a protocol older than version 3.
     */
    public Optional<Instant> deadline() {
        return hasDeadline ? Optional.of(deadlineInstant()) : Optional.empty();
    }

    /** The deadline on the wall clock, worked out when asked (no clock is read for a request that nobody asks). */
    private Instant deadlineInstant() {
        return Instant.now().plusNanos(deadlineNanos - System.nanoTime());
    }

    /** The time left until the deadline (zero once it has passed); empty if there is none. */
    public Optional<Duration> timeLeft() {
        if (!hasDeadline) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime())));
    }

    /**
     * Whether the answer is no longer wanted: the client cancelled, the deadline passed, or the connection ended. The
     * server then drops whatever the handler returns and answers {@link ErrorCode#CANCELLED}.
     */
    public boolean isCancelled() {
        return cancelledBecause() != null;
    }

    /**
     * Runs {@code action} once, when the request is cancelled (at once if it is already). It runs on the thread that
     * learns of the cancellation (the connection's reader, or the server's timer), so it must be quick and must not
     * block: complete a future, close a subscription, interrupt a worker. An exception from it is logged.
     */
    public void onCancel(Runnable action) {
        Objects.requireNonNull(action, "action");
        boolean now;
        synchronized (lock) {
            now = cancelledBecause() != null;
            if (!now) {
                if (onCancel == null) {
                    onCancel = new ArrayList<>(2);
                }
                onCancel.add(action);
                watchDeadline();
            }
        }
        if (now) {
            run(action);
        }
    }

    /**
     * Whether the caller reads a stream of replies (its window is not 0), so that {@link #openStream()} may be used.
     */
    public boolean acceptsStream() {
        return window > 0 && sink != null;
    }

    /**
     * The stream to answer this request on, message by message (the same one on every call).
     *
     * @throws IllegalStateException if the caller asked for a single reply ({@link #acceptsStream()} is false)
     */
    public ReplyStream openStream() {
        if (!acceptsStream()) {
            throw singleReplyOnly();
        }
        synchronized (lock) {
            if (stream == null) {
                stream = new ReplyStream(this);
            }
            return stream;
        }
    }

    /**
     * Answers with the messages of {@code messages}, as a stream, holding no thread while it waits: the server
     * subscribes and asks for as many messages as the caller has room for (its window and the credit it grants as it
     * reads), each one going out as it comes. The publisher's completion ends the stream; its error fails the request
     * as a handler's would ({@link ApplicationException} with its code). A cancelled request (its caller gave up, its
     * deadline passed, its connection ended, the server is shutting down) cancels the subscription. Return the stage
     * from an {@link IpcServer.AsyncRequestHandler}:
     *
     * <pre>{@code
     * .asyncRequestHandler(request -> request.stream(watches.publisherOf(request.payload())))
     * }</pre>
     *
     * <p>The publisher's signals may come on any thread, one at a time, as {@link Flow} requires; each message is
     * queued for the connection's writer on the thread that delivers it.
     *
     * @return the stage the handler returns: it completes when the stream ends
     * @throws IllegalStateException if the caller asked for a single reply ({@link #acceptsStream()} is false), or a
     *     stream was opened already
     */
    public CompletionStage<byte[]> stream(Flow.Publisher<byte[]> messages) {
        Objects.requireNonNull(messages, "messages");
        PublishedStream subscriber = new PublishedStream(this, sink);
        synchronized (lock) {
            if (!acceptsStream()) {
                throw singleReplyOnly();
            }
            if (stream != null) {
                throw new IllegalStateException("request " + id + " has its stream already");
            }
            stream = new ReplyStream(this);
            published = subscriber;
        }
        onCancel(subscriber::cancel);
        messages.subscribe(subscriber);
        return subscriber.done;
    }

    private IllegalStateException singleReplyOnly() {
        return new IllegalStateException("request " + id + " from " + peer + " takes a single reply, not a stream "
                + "(its client called call(), not stream(), or speaks protocol version 1 or 2)");
    }

    /** The messages the caller has room for now. */
    long credit() {
        synchronized (lock) {
            return answered || cancelledLocked() != null ? 0 : credit;
        }
    }

    /** Takes one message's credit, if the stream still takes messages; whether it did. */
    boolean takeCredit() {
        synchronized (lock) {
            if (answered || cancelledLocked() != null || credit <= 0) {
                return false;
            }
            credit--;
            return true;
        }
    }

    /** Whether a stream was opened (the server then ends it, rather than answering with one reply). */
    boolean streamOpened() {
        synchronized (lock) {
            return stream != null;
        }
    }

    /** Why the request is cancelled, or null if it is not. */
    String cancelledBecause() {
        synchronized (lock) {
            return cancelledLocked();
        }
    }

    /** {@link #cancelledBecause()}, the lock held. */
    private String cancelledLocked() {
        if (cancelled != null) {
            return cancelled;
        }
        if (hasDeadline && System.nanoTime() - deadlineNanos >= 0) {
            return "its deadline passed (the client waited until about " + deadlineInstant() + ", and no longer)";
        }
        return null;
    }

    /** Cancels the request (a CANCEL frame, the connection's end, the server's shutdown of a stream). */
    void cancel(String why) {
        List<Runnable> actions;
        synchronized (lock) {
            if (cancelled != null || answered) {
                return;
            }
            cancelled = why;
            actions = onCancel;
            onCancel = null;
            unwatchDeadline();
            lock.notifyAll();
        }
        if (actions != null) {
            actions.forEach(Request::run);
        }
    }

    /** Adds {@code count} to the messages the client takes. */
    void grant(long count) {
        PublishedStream subscriber;
        synchronized (lock) {
            credit = Math.min(Long.MAX_VALUE / 2, credit + count);
            lock.notifyAll();
            subscriber = published;
        }
        if (subscriber != null) {
            subscriber.more(); // on the reader's thread: asks, never waits
        }
    }

    /**
     * The request is answered: its stream takes no more messages, and nothing cancels it any more.
     *
     * @return why it was cancelled before, or null: the answer is then CANCELLED, whatever the handler returned
     */
    String answered() {
        synchronized (lock) {
            answered = true;
            onCancel = null;
            unwatchDeadline();
            lock.notifyAll();
            return cancelledLocked();
        }
    }

    /** Sends one message of the stream once the client has room for it. */
    void send(byte[] message) {
        Objects.requireNonNull(message, "message");
        if (message.length > sink.maxPayload()) {
            throw new IllegalArgumentException(
                    "a message of " + message.length + " bytes is over maxFrameSize " + sink.maxPayload());
        }
        sending.lock();
        try {
            synchronized (lock) {
                while (true) {
                    if (answered) {
                        throw new IllegalStateException("request " + id + " is already answered: its stream is over");
                    }
                    String why = cancelledBecause();
                    if (why != null) {
                        throw new CancellationException("request " + id + " was cancelled: " + why);
                    }
                    if (credit > 0) {
                        break;
                    }
                    waitLocked();
                }
                credit--;
            }
            sink.stream(this, message); // not under the lock, so that a cancel is never held up by a full output
        } finally {
            sending.unlock();
        }
        sink.flush();
    }

    /** Waits on the lock, which the caller holds, until notified or the deadline, at most 100 ms (to see it pass). */
    private void waitLocked() {
        long millis = 100;
        if (hasDeadline) {
            millis = Math.max(1, Math.min(millis, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime())));
        }
        try {
            lock.wait(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while waiting to send on request " + id);
        }
    }

    /** Has the server's timer cancel the request at its deadline, for the actions waiting for it; under the lock. */
    private void watchDeadline() {
        if (!hasDeadline || deadlineWatched || sink == null) {
            return;
        }
        deadlineWatched = true;
        long delay = deadlineNanos - System.nanoTime();
        try {
            deadlineTask = sink.timer()
                    .schedule(
                            () -> cancel("its deadline passed (the client waits no longer)"),
                            Math.max(0, delay),
                            TimeUnit.NANOSECONDS);
        } catch (RuntimeException e) {
            LOG.debug("could not watch the deadline of request {}: {}", id, e.toString());
        }
    }

    /**
     * Drops the timer's task once the request is answered or cancelled: it would hold the request and its payload until
     * the deadline (up to 49 days), whatever became of it; under the lock.
     */
    private void unwatchDeadline() {
        if (deadlineTask != null) {
            deadlineTask.cancel(false);
            deadlineTask = null;
        }
    }

    private static void run(Runnable action) {
        try {
            action.run();
        } catch (RuntimeException | Error e) {
            LOG.warn("an onCancel action failed", e);
        }
    }

    @Override
    public String toString() {
        return "Request[id " + id + ", " + payload.length + " bytes, from " + peer
                + (hasDeadline ? ", deadline " + deadlineInstant() : "") + "]";
    }
}
