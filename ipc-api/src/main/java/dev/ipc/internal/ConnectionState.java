package dev.ipc.internal;

/** What the runtime's watchdogs and thread choice need to know of a connection, whatever its kind. */
public interface ConnectionState {

    /**
     * When the first byte of a frame that has not yet arrived whole came in ({@link System#nanoTime()}),
     * or 0 if none is half-received.
     */
    long partialFrameSince();

    /** When the write in progress began ({@link System#nanoTime()}), or 0 if none is; for stall watchdogs. */
    long writingSince();

    /** Whether the connection may block in a virtual thread. */
    boolean suitsVirtualThreads();
}
