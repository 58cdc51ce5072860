package dev.ipc.internal;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Closes a resource if a step that blocks on it (a handshake) is not done in time: the blocked read
 * then fails, and {@link #expired()} tells the caller why.
 *
 * <p>Runs on the JDK's shared delay scheduler thread itself, so no thread of ours waits for it, and not
 * on the common fork-join pool, which an application may have filled with blocking tasks (on 2 cores it
 * has one thread): a timeout must fire whatever else the process does.
 */
public final class Deadline implements AutoCloseable {

    private static final int ARMED = 0;
    private static final int DONE = 1;
    private static final int EXPIRED = 2;

    private final AtomicInteger state = new AtomicInteger(ARMED);

    private Deadline() {
    }

    /** Closes {@code target} after {@code timeout} unless {@link #close()} runs first; zero for never. */
    public static Deadline closeAfter(Duration timeout, AutoCloseable target) {
        Deadline deadline = new Deadline();
        if (!timeout.isZero()) {
            CompletableFuture.delayedExecutor(timeout.toNanos(), TimeUnit.NANOSECONDS, Runnable::run).execute(() -> {
                if (deadline.state.compareAndSet(ARMED, EXPIRED)) {
                    Closer.closeQuietly(target, null);
                }
            });
        }
        return deadline;
    }

    /** Whether the time ran out and the resource was closed. */
    public boolean expired() {
        return state.get() == EXPIRED;
    }

    /** Disarms the deadline; the step finished. Returns nothing, throws nothing. */
    @Override
    public void close() {
        state.compareAndSet(ARMED, DONE);
    }
}
