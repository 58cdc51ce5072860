package dev.ipc;

import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One subscription of {@link IpcClient#publisher(byte[])}: a {@link StreamingCall} read as the subscriber's demand
 * allows, its signals sent one at a time on the client's executor.
 */
final class StreamPublisher implements Flow.Subscription {

    private final IpcClient client;
    private final byte[] request;
    private final Flow.Subscriber<? super byte[]> subscriber;
    private final Executor executor;

    private final AtomicLong demand = new AtomicLong();
    private final AtomicInteger work = new AtomicInteger(); // drains asked for; one runs at a time
    private volatile StreamingCall call; // once started
    private volatile boolean cancelled;
    private volatile Throwable refused; // a request(n) with n <= 0, signalled as the rule says
    private boolean done; // a terminal signal was sent; only the draining thread uses it

    private StreamPublisher(
            IpcClient client, byte[] request, Flow.Subscriber<? super byte[]> subscriber, Executor executor) {
        this.client = client;
        this.request = request;
        this.subscriber = subscriber;
        this.executor = executor;
    }

    static void subscribe(IpcClient client, byte[] request, Flow.Subscriber<? super byte[]> subscriber, Executor on) {
        Objects.requireNonNull(subscriber, "subscriber");
        StreamPublisher subscription = new StreamPublisher(client, request, subscriber, on);
        subscription.dispatch(subscription::start);
    }

    /** On the executor: tells the subscriber it is subscribed, then makes the call (which may wait for a connect). */
    private void start() {
        try {
            subscriber.onSubscribe(this);
        } catch (RuntimeException e) {
            cancelled = true; // a subscriber that throws here breaks the rules: nothing more is sent to it
            return;
        }
        if (cancelled) {
            return;
        }
        try {
            StreamingCall made = client.stream(request);
            made.onActivity(this::drainLater);
            call = made;
            if (cancelled) {
                made.close();
            }
        } catch (IOException | RuntimeException e) {
            done = true;
            subscriber.onError(e);
            return;
        }
        drain();
    }

    @Override
    public void request(long n) {
        if (n <= 0) {
            refused = new IllegalArgumentException("request(" + n + "): a subscriber asks for at least one (rule 3.9)");
        } else {
            demand.getAndAccumulate(n, (had, more) -> had + more < 0 ? Long.MAX_VALUE : had + more);
        }
        drainLater();
    }

    @Override
    public void cancel() {
        cancelled = true;
        StreamingCall made = call;
        if (made != null) {
            made.close();
        }
    }

    private void drainLater() {
        if (work.getAndIncrement() == 0) {
            dispatch(this::drainLoop);
        }
    }

    private void drain() {
        if (work.getAndIncrement() == 0) {
            drainLoop();
        }
    }

    /** Sends what the demand allows, then the end; one thread at a time, however many asked. */
    private void drainLoop() {
        try {
            drainAll();
        } catch (RuntimeException e) {
            work.set(0);
            throw e;
        }
    }

    private void drainAll() {
        do {
            StreamingCall made = call;
            while (!done && !cancelled && made != null) {
                Throwable wrong = refused;
                if (wrong != null) {
                    done = true;
                    made.close();
                    subscriber.onError(wrong);
                    break;
                }
                byte[] message;
                try {
                    message = demand.get() > 0 ? made.poll() : made.isDone() ? made.poll() : null;
                } catch (CancellationException e) {
                    break; // closed by cancel()
                } catch (IOException e) {
                    done = true;
                    subscriber.onError(e);
                    break;
                }
                if (message == null) {
                    break;
                }
                if (message == StreamingCall.END) {
                    done = true;
                    subscriber.onComplete();
                    break;
                }
                demand.decrementAndGet();
                try {
                    subscriber.onNext(message);
                } catch (RuntimeException e) {
                    // Rule 2.13 forbids it; the subscription is over rather than stuck.
                    done = true;
                    made.close();
                    throw e;
                }
            }
        } while (work.decrementAndGet() != 0);
    }

    private void dispatch(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            cancel();
        }
    }
}
