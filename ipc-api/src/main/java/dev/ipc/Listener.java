package dev.ipc;

import java.io.Closeable;
import java.io.IOException;

/**
 * A bound endpoint that accepts connections.
 *
 * <p>{@link #accept()} may be called from several threads. {@link #close()} is idempotent, makes a blocked
 * {@code accept()} fail at once, and releases the endpoint: a socket file this listener created is removed, if the file
 * at that path is still the one it created.
 */
public interface Listener extends Closeable {

    /**
     * Waits for the next connection.
     *
     * @throws java.net.SocketTimeoutException if none arrived within {@link ConnectionOptions#ACCEPT_TIMEOUT}
     * @throws java.nio.channels.ClosedChannelException if the listener is closed, before or during the call
     * @throws IOException if accepting fails
     */
    Connection accept() throws IOException;

    /**
     * The bound endpoint, with its query: for {@code tcp://host:0}, the port actually bound, so that
     * {@code endpoint().toString()} can be handed to a client (which reads its own keys of the query, and leaves the
     * listener's to it).
     */
    Endpoint endpoint();

    /** Whether {@link #close()} has not yet run. */
    boolean isOpen();

    /** Stops listening and releases the endpoint; idempotent. */
    @Override
    void close() throws IOException;
}
