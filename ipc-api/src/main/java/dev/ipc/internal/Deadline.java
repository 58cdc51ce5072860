package dev.ipc.internal;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds a step that blocks on a resource (a handshake): if the step is not done in time, the resource is closed, the
 * blocked read fails, and the step's failure is reported as the timeout it was.
 *
 * <p>Runs on the JDK's shared delay scheduler thread itself, so no thread of ours waits for it, and not on the common
 * fork-join pool, which an application may have filled with blocking tasks (on 2 cores it has one thread): a timeout
 * must fire whatever else the process does.
 */
public final class Deadline {

    private static final int ARMED = 0;
    private static final int DONE = 1;
    private static final int EXPIRED = 2;

    /** A step that blocks on the resource. */
    @FunctionalInterface
    public interface Step {
        /** Runs the step. */
        void run() throws IOException;
    }

    private Deadline() {}

    /**
     * Runs {@code step}, closing {@code target} after {@code timeout} (zero for never) if it has not finished by then.
     *
     * @param timedOut the message of the {@link SocketTimeoutException} thrown when time ran out, such as "the
     *     handshake did not finish within handshakeTimeout PT5S"
     * @throws SocketTimeoutException with the step's failure as its cause, if the time ran out
     * @throws IOException the step's own failure otherwise
     */
    public static void within(Duration timeout, AutoCloseable target, String timedOut, Step step) throws IOException {
        AtomicInteger state = new AtomicInteger(ARMED);
        if (!timeout.isZero()) {
            CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS, Runnable::run)
                    .execute(() -> {
                        if (state.compareAndSet(ARMED, EXPIRED)) {
                            Closer.closeQuietly(target, null);
                        }
                    });
        }
        try {
            step.run();
        } catch (IOException | RuntimeException e) {
            if (!state.compareAndSet(ARMED, DONE)) {
                SocketTimeoutException timeoutException = new SocketTimeoutException(timedOut);
                timeoutException.initCause(e);
                throw timeoutException;
            }
            throw e;
        }
        state.compareAndSet(ARMED, DONE);
    }
}
