package dev.ipc.spi;

import java.util.Objects;

/**
 * How well a {@link Transport} suits an endpoint: a rank (higher wins) and the reason, for the log line that records
 * the choice and for the error when no transport suits.
 *
 * @param rank the rank; negative means the transport cannot serve the endpoint
 * @param reason why, in a few words
 */
public record Suitability(int rank, String reason) {

    /** The ranks the bundled transports use, so that a third-party transport can place itself among them. */
    public static final int FORCED = 1000;
    /** The rank of the default transport for a scheme. */
    public static final int PREFERRED = 100;
    /** The rank of a transport used when the preferred one can't serve. */
    public static final int FALLBACK = 10;

    /** Checks the reason is present. */
    public Suitability {
        Objects.requireNonNull(reason, "reason");
    }

    /** A transport that can serve, with its rank. */
    public static Suitability suitable(int rank, String reason) {
        if (rank < 0) {
            throw new IllegalArgumentException("rank of a suitable transport must be 0 or more, was " + rank);
        }
        return new Suitability(rank, reason);
    }

    /** A transport that cannot serve the endpoint, and why. */
    public static Suitability unsuitable(String reason) {
        return new Suitability(-1, reason);
    }

    /** Whether the transport can serve the endpoint. */
    public boolean isSuitable() {
        return rank >= 0;
    }
}
