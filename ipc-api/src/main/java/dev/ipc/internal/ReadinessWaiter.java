package dev.ipc.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;

/**
 * Waits, with a timeout, until a non-blocking channel is ready for one operation.
 *
 * <p>The selector is opened on first use, from the channel's own provider (so junixsocket's channels get junixsocket's
 * selector). One thread waits at a time; {@link #close()} may come from any thread and makes a waiting {@link #await}
 * fail with {@link AsynchronousCloseException}.
 */
public final class ReadinessWaiter implements AutoCloseable {

    private final SelectableChannel channel;
    private final int operation;
    private final Object lock = new Object();
    private Selector selector;
    private boolean closed;

    /**
     * A waiter for {@code operation} ({@link SelectionKey#OP_READ} and the like) on {@code channel}, which must be in
     * non-blocking mode.
     */
    public ReadinessWaiter(SelectableChannel channel, int operation) {
        this.channel = channel;
        this.operation = operation;
    }

    /**
     * Waits until the channel may be ready or the time is up; the caller retries its operation either way.
     *
     * @param nanos at most this long; zero or less to wait without limit
     * @return whether the selector reported the channel ready (false after a timeout or a wakeup)
     * @throws AsynchronousCloseException if this waiter or the channel was closed
     * @throws InterruptedIOException if the thread is interrupted
     */
    public boolean await(long nanos) throws IOException {
        Selector current = selector();
        int ready;
        try {
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("interrupted while waiting for " + describe());
            }
            if (nanos <= 0) {
                // Not select(0): junixsocket's selector takes 0 as "don't wait" and would spin.
                ready = current.select();
            } else {
                ready = current.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos + 999_999)));
            }
            current.selectedKeys().clear();
        } catch (ClosedSelectorException e) {
            throw closedException();
        }
        synchronized (lock) {
            if (closed || !channel.isOpen()) {
                throw closedException();
            }
        }
        return ready > 0;
    }

    private Selector selector() throws IOException {
        synchronized (lock) {
            if (closed || !channel.isOpen()) {
                throw closedException();
            }
            if (selector == null) {
                Selector opened = channel.provider().openSelector();
                try {
                    channel.register(opened, operation);
                } catch (IOException | RuntimeException e) {
                    opened.close();
                    throw e;
                }
                selector = opened;
            }
            return selector;
        }
    }

    private String describe() {
        return operation == SelectionKey.OP_ACCEPT
                ? "a connection"
                : operation == SelectionKey.OP_CONNECT
                        ? "the connect to finish"
                        : operation == SelectionKey.OP_WRITE ? "room to write" : "data";
    }

    private static AsynchronousCloseException closedException() {
        return new AsynchronousCloseException();
    }

    /** Makes a thread waiting in {@link #await} return at once, as if the time were up. */
    public void wakeup() {
        Selector current;
        synchronized (lock) {
            current = selector;
        }
        if (current != null) {
            current.wakeup();
        }
    }

    /** Closes the selector, waking a waiting thread; idempotent. */
    @Override
    public void close() throws IOException {
        Selector toClose;
        synchronized (lock) {
            closed = true;
            toClose = selector;
            selector = null;
        }
        if (toClose != null) {
            // Wake first: junixsocket's selector does not always wake a thread blocked in select() when it
            // is closed (seen as an accept() that close() left waiting); the JDK's does, and wakes twice harmlessly.
            toClose.wakeup();
            toClose.close();
        }
    }
}
