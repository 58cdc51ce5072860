package dev.ipc.internal;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The loop that a server's accept thread runs: accept, hand over, and on a failure (most often out of descriptors) back
 * off from 1 ms to 1 s instead of spinning, keeping the listener.
 */
public final class AcceptLoop {

    private static final Logger LOG = LoggerFactory.getLogger(AcceptLoop.class);

    /** Accepts one connection; blocks. */
    @FunctionalInterface
    public interface Source {
        /** The next connection. */
        FramedConnection accept() throws IOException;
    }

    private AcceptLoop() {}

    /**
     * Accepts from {@code source} and passes each connection to {@code sink} while {@code running} holds; returns when
     * an accept fails and {@code running} no longer holds (the listener was closed).
     *
     * @param where the endpoint, for the warning logged when an accept fails
     */
    public static void run(Object where, Source source, BooleanSupplier running, Consumer<FramedConnection> sink) {
        long pauseMillis = 1;
        while (running.getAsBoolean()) {
            FramedConnection connection;
            try {
                connection = source.accept();
                pauseMillis = 1;
            } catch (SocketTimeoutException e) {
                continue; // an accept timeout: nobody came, which is no failure
            } catch (IOException e) {
                if (!running.getAsBoolean()) {
                    return;
                }
                LOG.warn("accepting on {} failed ({}); trying again in {} ms", where, e.getMessage(), pauseMillis);
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(pauseMillis));
                pauseMillis = Math.min(pauseMillis * 2, 1000);
                continue;
            }
            sink.accept(connection);
        }
    }
}
