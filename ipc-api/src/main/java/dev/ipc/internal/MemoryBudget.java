package dev.ipc.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes a server may hold of what its peers sent and what it owes them, shared by all its connections: frames as
 * they arrive, requests while they run, replies until they are written. A large frame that does not fit is read and
 * dropped rather than kept ({@link OverBudgetException}); what is already in memory (a small frame, a reply) is counted
 * whether or not it fits, so the count is the truth and only new large frames are refused.
 */
public final class MemoryBudget {

    private final long limit;
    private final AtomicLong used = new AtomicLong();

    /** A budget of {@code limit} bytes. */
    public MemoryBudget(long limit) {
        this.limit = limit;
    }

    /** Reserves {@code bytes} if they fit in what is left; false, reserving nothing, if not. */
    public boolean tryReserve(long bytes) {
        while (true) {
            long now = used.get();
            if (now + bytes > limit) {
                return false;
            }
            if (used.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    /** Counts {@code bytes} already held, whether or not they fit. */
    public void add(long bytes) {
        used.addAndGet(bytes);
    }

    /** Gives back {@code bytes} reserved or added before. */
    public void release(long bytes) {
        used.addAndGet(-bytes);
    }

    /** The bytes held now. */
    public long used() {
        return used.get();
    }

    /** The most bytes it admits. */
    public long limit() {
        return limit;
    }
}
