package dev.ipc.internal;

/** What the runtime's watchdogs and thread choice need to know of a connection, whatever its kind. */
public interface ConnectionState {

    /**
     * When the first byte of a frame that has not yet arrived whole came in ({@link System#nanoTime()}), or 0 if none
     * is half-received.
     */
    long partialFrameSince();

    /**
     * How many writes to the socket have begun and ended, counted together: odd while one is in progress. A watchdog
     * that sees the same odd count for a while knows a write has stalled that long.
     */
    long writeCount();

    /** Whether the connection may block in a virtual thread. */
    boolean suitsVirtualThreads();
}
