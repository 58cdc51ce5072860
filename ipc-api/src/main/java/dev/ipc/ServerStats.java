package dev.ipc;

import java.util.Map;

/**
 * A snapshot of an {@link IpcServer}'s counters ({@link IpcServer#stats()}), for a metrics system of your choice: the
 * totals only grow, the others are the state at the moment.
 *
 * @param connectionsOpen connections past their hello, now
 * @param connectionsInSharedMemory of those, the ones whose bytes travel through shared memory
 * @param connectionsAccepted connections accepted since the start (refused ones too)
 * @param connectionsRefused connections refused with an ERROR before or at their hello (limits, policy, timeout)
 * @param requests requests taken since the start
 * @param requestsInFlight requests taken whose reply is not yet queued, now
 * @param bytesReceived bytes of frames read after the hello, with their length prefixes
 * @param bytesSent bytes of frames queued to send after the hello, with their length prefixes
 * @param bufferedBytes bytes of requests and replies held now, counted against {@code maxBufferedBytes}: frames being
 *     read, requests while they run, replies until written; back to 0 once every connection has closed
 * @param errors ERROR frames sent since the start, by code ({@link ErrorCode#APPLICATION} for all the application's)
 */
public record ServerStats(
        long connectionsOpen,
        long connectionsInSharedMemory,
        long connectionsAccepted,
        long connectionsRefused,
        long requests,
        long requestsInFlight,
        long bytesReceived,
        long bytesSent,
        long bufferedBytes,
        Map<ErrorCode, Long> errors) {

    /** The snapshot; {@code errors} is copied. */
    public ServerStats {
        errors = Map.copyOf(errors);
    }
}
