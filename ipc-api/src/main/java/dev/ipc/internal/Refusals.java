package dev.ipc.internal;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refuses connections with a last frame that says why, then a graceful close ({@link FramedConnection#finish}), off the
 * caller's thread: an accept loop hands a refused connection here and goes on accepting.
 *
 * <p>At most {@link #MAX_LINGERING} refused connections linger at once, so a flood of them costs a bounded number of
 * threads; beyond that the frame is still sent and the output shut, and the connection is closed at once.
 */
public final class Refusals {

    /** How long a refused or finished connection waits for its peer to close before closing anyway. */
    public static final Duration LINGER = Duration.ofSeconds(1);
    /** The most refused connections lingering at once. */
    static final int MAX_LINGERING = 64;

    private static final Logger LOG = LoggerFactory.getLogger(Refusals.class);
    private static final Semaphore LINGERING = new Semaphore(MAX_LINGERING);

    private Refusals() {}

    /** Sends {@code frame} (if not null) on {@code connection}, then finishes it in the background. Never throws. */
    public static void refuse(FramedConnection connection, byte[] frame) {
        if (LINGERING.tryAcquire()) {
            try {
                connection
                        .threads("ipc-refused " + connection.remote())
                        .newThread(() -> {
                            try {
                                connection.finish(frame, LINGER);
                            } finally {
                                LINGERING.release();
                            }
                        })
                        .start();
                return;
            } catch (RuntimeException | OutOfMemoryError e) {
                LINGERING.release();
                LOG.debug("no thread to finish a refused connection gracefully: {}", e.toString());
            }
        }
        connection.finish(frame, Duration.ZERO);
    }
}
