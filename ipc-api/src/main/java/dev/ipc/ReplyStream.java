package dev.ipc;

import java.util.concurrent.CancellationException;

/**
 * The messages a handler answers one request with, sent as its caller reads them: {@link Request#openStream()} gives
 * it, {@link IpcClient#stream(byte[])} (or {@link IpcClient#publisher(byte[])}) reads it on the other side.
 *
 * <p>Flow control: the caller grants room for a few messages at a time (its window, {@link ClientOptions#STREAM_WINDOW}
 * by default) and more as it takes them, and the server holds no more than a bounded number of frames per connection
 * waiting for the socket; {@link #send(byte[])} waits until there is room. So a slow reader slows the handler, and a
 * reader that stops reading stops it, until the caller cancels, the deadline passes, or the connection ends (the
 * server's {@code writeTimeout} ends a connection that stops reading altogether).
 *
 * <p>The stream ends when the handler returns: see {@link Request}. Thread-safe: messages sent from many threads go out
 * one at a time, in the order their sends took their turn.
 */
public final class ReplyStream {

    private final Request request;

    ReplyStream(Request request) {
        this.request = request;
    }

    /**
     * Sends one message, once the caller has room for it.
     *
     * @throws CancellationException if the request is cancelled (its caller gave up, its deadline passed, its
     *     connection ended, or the server is shutting down): the handler should stop; the server answers CANCELLED
     * @throws IllegalStateException if the handler has already answered, ending the stream
     * @throws IllegalArgumentException if the message is over the server's maxFrameSize
     */
    public void send(byte[] message) {
        request.send(message);
    }

    /** Whether the request is cancelled: a send would throw {@link CancellationException}. */
    public boolean isCancelled() {
        return request.isCancelled();
    }

    @Override
    public String toString() {
        return "ReplyStream[" + request + "]";
    }
}
