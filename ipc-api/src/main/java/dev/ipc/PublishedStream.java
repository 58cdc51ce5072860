package dev.ipc;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;

/**
 * A request's stream answered from a {@link Flow.Publisher} ({@link Request#stream(Flow.Publisher)}): no thread waits
 * for the client's credit or for the next message. The subscriber asks the publisher for as many messages as the client
 * has granted, and no more than {@link #AHEAD} waiting to be written; each message it gets goes into the session's
 * outbox, and each one written asks for more. The publisher's end ends the stream; its error fails the request; the
 * request's cancellation cancels the subscription.
 */
final class PublishedStream implements Flow.Subscriber<byte[]> {

    /** The most messages of one stream asked for or waiting to be written: the memory one stream may hold. */
    static final int AHEAD = 16;
    /** How soon a message the memory budget had no room for is offered again. */
    private static final long RETRY_MILLIS = 10;

    /** Completes with null when the publisher completes (the end of the stream), or with its failure. */
    final CompletableFuture<byte[]> done = new CompletableFuture<>();

    private final Request request;
    private final Request.Sink sink;

    // Guarded by this.
    private Flow.Subscription subscription;
    private long requested; // asked of the publisher, not yet delivered
    private int unwritten; // in the outbox, not yet written
    private byte[] held; // delivered, and waiting for room in the memory budget
    private boolean over;

    PublishedStream(Request request, Request.Sink sink) {
        this.request = request;
        this.sink = sink;
    }

    @Override
    public void onSubscribe(Flow.Subscription given) {
        synchronized (this) {
            if (subscription != null || over) {
                given.cancel(); // subscribed twice, or over already: Flow's rules say cancel the newcomer
                return;
            }
            subscription = given;
        }
        more();
    }

    /** Asks the publisher for what the client's credit and the room ahead allow; called whenever either grows. */
    void more() {
        Flow.Subscription asked;
        long count;
        synchronized (this) {
            if (over || subscription == null || held != null) {
                return;
            }
            count = Math.min(request.credit() - requested, AHEAD - unwritten - requested);
            if (count <= 0) {
                return;
            }
            requested += count;
            asked = subscription;
        }
        asked.request(count);
    }

    @Override
    public void onNext(byte[] message) {
        synchronized (this) {
            if (over) {
                return;
            }
            requested--;
        }
        if (!request.takeCredit()) {
            return; // cancelled or answered meanwhile: the cancellation ends the subscription
        }
        offer(message);
    }

    /** Queues a message, or holds it until the memory budget has room. */
    private void offer(byte[] message) {
        synchronized (this) {
            unwritten++;
        }
        boolean queued;
        try {
            queued = sink.offer(request, message, this::written);
        } catch (RuntimeException e) {
            synchronized (this) {
                unwritten--;
            }
            cancelAndFail(e);
            return;
        }
        if (!queued) {
            synchronized (this) {
                unwritten--;
                held = message;
            }
            retryLater();
        }
    }

    private void retryLater() {
        try {
            sink.timer().schedule(this::retry, RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            cancelAndFail(e); // the server is closing: nothing would send it
        }
    }

    private void retry() {
        byte[] message;
        synchronized (this) {
            message = held;
            held = null;
            if (over || message == null) {
                return;
            }
        }
        offer(message);
        more();
    }

    /** One of this stream's frames was written: room for another. */
    private void written() {
        synchronized (this) {
            unwritten--;
        }
        more();
    }

    @Override
    public void onError(Throwable failure) {
        end(failure);
    }

    @Override
    public void onComplete() {
        end(null);
    }

    private void end(Throwable failure) {
        byte[] last;
        synchronized (this) {
            if (over) {
                return;
            }
            over = true;
            last = held; // a message still held goes out as the stream's last, in the answer itself
            held = null;
        }
        if (failure != null) {
            done.completeExceptionally(failure);
        } else {
            done.complete(last);
        }
    }

    /** The request was cancelled (by its client, its deadline, its connection's end, the server's close). */
    void cancel() {
        Flow.Subscription ended;
        synchronized (this) {
            over = true;
            held = null;
            ended = subscription;
        }
        if (ended != null) {
            ended.cancel();
        }
        done.complete(null); // answered CANCELLED: the request says so
    }

    private void cancelAndFail(RuntimeException e) {
        Flow.Subscription ended;
        synchronized (this) {
            if (over) {
                return;
            }
            over = true;
            ended = subscription;
        }
        if (ended != null) {
            ended.cancel();
        }
        done.completeExceptionally(e);
    }
}
