package dev.ipc;

import dev.ipc.internal.Codec;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * One call of an {@link IpcClient}: waiting for its place among the server's requests in flight, then for its reply
 * (or, for a stream, its messages and its end). Its future completes on the thread that reads the connection; the
 * client hands it to callers from there.
 */
final class Call {
    final ClientSession session;
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

    Call(ClientSession session, byte[] request, Duration timeout, int window) {
        this.session = session;
        this.request = request;
        this.hasDeadline = !timeout.isZero();
        this.timeout = timeout;
        this.deadline = hasDeadline ? System.nanoTime() + timeout.toNanos() : 0;
        this.window = window;
        if (window > 0) {
            stream = new StreamingCall(
                    "the stream of " + session.endpoint,
                    window,
                    count -> session.credit(this, count),
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
        return Math.max(1, Codec.timeoutMillis(Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))));
    }

    /**
     * Gives up on the call: if it still waits for a place it never goes out; if it was sent, the server is told to
     * cancel it, and its answer will be dropped (its place is the server's until then).
     */
    void abandon(Throwable why) {
        future.completeExceptionally(why);
        session.unqueue(this);
        session.cancel(this);
    }

    /** The timeout of a call that took longer than {@code timeout}, saying what it waited for. */
    SocketTimeoutException timedOut(Duration timeout) {
        if (id == 0 && request != null) {
            return new SocketTimeoutException("no place for this call among the " + session.maxInFlight
                    + " requests in flight that " + session.endpoint + " allows within " + timeout + " (the others "
                    + "were still running); it was not sent");
        }
        return new SocketTimeoutException("no reply from " + session.endpoint + " within " + timeout);
    }
}
