package dev.ipc;

/**
 * A snapshot of an {@link IpcClient}'s counters ({@link IpcClient#stats()}).
 *
 * @param calls calls made since the client was made (sent, or failed before they could be)
 * @param inFlight calls sent whose reply has not arrived, now
 * @param queued calls waiting for a place among the server's requests in flight, now
 * @param connects connections made, the first one included
 */
public record ClientStats(long calls, long inFlight, long queued, long connects) {}
