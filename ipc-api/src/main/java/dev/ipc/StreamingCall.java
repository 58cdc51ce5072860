package dev.ipc;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

/**
 * A call answered by a stream of messages ({@link IpcClient#stream(byte[])}): read them as they come with
 * {@link #next(Duration)}, or iterate. The stream ends when the server's handler returns (then {@link #next()} gives
 * null), or with the error it ended on ({@link RemoteException}, {@link ApplicationException},
 * {@link ConnectionLostException}).
 *
 * <p>Flow control: the client takes at most its window ({@link ClientOptions#STREAM_WINDOW}) of messages ahead of the
 * reader, and grants the server room for more as they are read; so a reader slower than the handler slows the handler
 * and holds at most the window in memory. {@link #close()} before the end cancels the call: the server's handler sees
 * it cancelled. Reading is for one thread at a time; {@link #close()} may come from any.
 */
public final class StreamingCall implements Iterable<byte[]>, AutoCloseable {

    /** What {@link #poll()} gives at the stream's end. */
    static final byte[] END = new byte[0];

    private final String what; // the call, for messages
    private final int window;
    private final IntConsumer grant; // sends CREDIT for that many messages
    private final Runnable cancel; // gives up on the call, telling the server

    private final Object lock = new Object();
    // Guarded by lock.
    private final ArrayDeque<byte[]> messages = new ArrayDeque<>();
    private long received;
    private long granted;
    private int taken; // since the last grant
    private boolean ended;
    private IOException failure;
    private boolean closed;
    private Runnable activity; // told of each message and of the end (the publisher's drain)

    StreamingCall(String what, int window, IntConsumer grant, Runnable cancel) {
        this.what = what;
        this.window = window;
        this.grant = grant;
        this.cancel = cancel;
    }

    /** A message arrived (the reader thread). */
    void offer(byte[] message) throws ProtocolException {
        Runnable told;
        synchronized (lock) {
            if (received >= window + granted) {
                throw new ProtocolException("the server sent more messages of " + what + " than it was granted ("
                        + window + " and " + granted + " more)");
            }
            received++;
            if (closed || ended) {
                return; // cancelled meanwhile: dropped
            }
            messages.add(message);
            lock.notifyAll();
            told = activity;
        }
        if (told != null) {
            told.run();
        }
    }

    /** The call ended: with a last message (may be empty, then it adds nothing), or with its failure. */
    void end(byte[] last, Throwable failed) {
        Runnable told;
        synchronized (lock) {
            if (ended) {
                return;
            }
            ended = true;
            if (failed != null) {
                Throwable cause =
                        failed instanceof CompletionException && failed.getCause() != null ? failed.getCause() : failed;
                failure = cause instanceof IOException ? (IOException) cause : new IOException(cause);
            } else if (last != null && last.length > 0) {
                messages.add(last);
            }
            lock.notifyAll();
            told = activity;
        }
        if (told != null) {
            told.run();
        }
    }

    /** Has {@code action} run (on the thread that reads the connection, so quickly) on each message and at the end. */
    void onActivity(Runnable action) {
        synchronized (lock) {
            activity = action;
        }
    }

    /**
     * The next message, waiting as long as it takes; null once the stream has ended well.
     *
     * @throws RemoteException if the server ended it with an error
     * @throws ConnectionLostException if the connection dropped first
     * @throws CancellationException if it was closed
     */
    public byte[] next() throws IOException {
        return next(Duration.ZERO);
    }

    /**
     * The next message, waiting up to {@code timeout} (zero for no limit); null once the stream has ended well.
     *
     * @throws SocketTimeoutException if none came in time; the stream goes on, and a later call may get it
     * @throws RemoteException if the server ended it with an error
     * @throws ConnectionLostException if the connection dropped first
     * @throws CancellationException if it was closed
     */
    public byte[] next(Duration timeout) throws IOException {
        long end = System.nanoTime() + timeout.toNanos();
        byte[] message;
        synchronized (lock) {
            while (true) {
                message = take();
                if (message != null) {
                    break;
                }
                long left = end - System.nanoTime();
                if (!timeout.isZero() && left <= 0) {
                    throw new SocketTimeoutException("no message of " + what + " within " + timeout);
                }
                try {
                    lock.wait(timeout.isZero() ? 0 : Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for a message of " + what);
                }
            }
        }
        return message == END ? null : granted(message);
    }

    /** The next message if one is here, {@link #END} at the end, or null for none yet (the publisher's). */
    byte[] poll() throws IOException {
        byte[] message;
        synchronized (lock) {
            message = take();
        }
        return message == null || message == END ? message : granted(message);
    }

    /** Under the lock: a message, END, or null; throws the failure once the messages before it are read. */
    private byte[] take() throws IOException {
        if (closed) {
            throw new CancellationException(what + " was closed");
        }
        byte[] message = messages.poll();
        if (message != null) {
            taken++;
            return message;
        }
        if (!ended) {
            return null;
        }
        if (failure != null) {
            throw failure;
        }
        return END;
    }

    /** Grants the server room once half the window has been read. */
    private byte[] granted(byte[] message) {
        int grantNow = 0;
        synchronized (lock) {
            if (!ended && taken >= Math.max(1, window / 2)) {
                grantNow = taken;
                granted += taken;
                taken = 0;
            }
        }
        if (grantNow > 0) {
            grant.accept(grantNow);
        }
        return message;
    }

    /** Whether the stream has ended and every message of it was read. */
    public boolean isDone() {
        synchronized (lock) {
            return closed || (ended && messages.isEmpty());
        }
    }

    /**
     * Stops reading: if the stream has not ended, the call is cancelled (the server is told, and its handler sees it),
     * and what it still sends is dropped. Idempotent.
     */
    @Override
    public void close() {
        boolean cancelNow;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            cancelNow = !ended;
            messages.clear();
            lock.notifyAll();
        }
        if (cancelNow) {
            cancel.run();
        }
    }

    /**
     * The messages, each waited for without limit; the iterator ends with the stream. A failure surfaces from
     * {@code hasNext} as {@link UncheckedIOException} (or {@link CancellationException} once closed).
     */
    @Override
    public Iterator<byte[]> iterator() {
        return new Iterator<>() {
            private byte[] ahead;
            private boolean over;

            @Override
            public boolean hasNext() {
                if (ahead == null && !over) {
                    try {
                        ahead = StreamingCall.this.next();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    over = ahead == null;
                }
                return !over;
            }

            @Override
            public byte[] next() {
                if (!hasNext()) {
                    throw new NoSuchElementException(what + " has ended");
                }
                byte[] message = ahead;
                ahead = null;
                return message;
            }
        };
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "StreamingCall[" + what + ", " + messages.size() + " waiting" + (ended ? ", ended" : "")
                    + (closed ? ", closed" : "") + "]";
        }
    }
}
