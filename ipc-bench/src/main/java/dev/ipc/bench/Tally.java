package dev.ipc.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What a benchmark server counts, so that a case checks its own figure: the messages that arrived (on every connection)
 * and the first error it met. A sender that counts its own writes can report what never arrived (a write into a closed
 * Netty channel through a void promise fails silently); the receiver's count cannot.
 *
 * <p>With the system property {@code ipc.bench.fault=lose} the tally leaves out its thousandth message, as a server
 * that lost one would: the runner's test proves that such a case is reported as failed.
 */
final class Tally {

    /** The fault the runner's test injects: {@code lose} (a server misses a message) or {@code throw} (a client). */
    static final String FAULT = System.getProperty("ipc.bench.fault", "");

    private static final boolean LOSE = FAULT.equals("lose");

    private final AtomicLong received = new AtomicLong();
    private final AtomicReference<String> error = new AtomicReference<>();

    /** One message arrived. */
    void arrived() {
        if (received.incrementAndGet() == 1000 && LOSE) {
            received.decrementAndGet();
        }
    }

    /** Records the first error; later ones are consequences. */
    void failed(Throwable cause) {
        error.compareAndSet(null, cause.toString().replace('\n', ' '));
    }

    long received() {
        return received.get();
    }

    /** The first error met, or null. */
    String error() {
        return error.get();
    }

    /** The server's answer to {@code COUNT}: {@code COUNT <received>}, then {@code ERROR <text>} if it met one. */
    String report() {
        String failure = error.get();
        return "COUNT " + received.get() + (failure == null ? "" : " ERROR " + failure);
    }
}
