package dev.ipc.internal;

import dev.ipc.PeerCredentials;
import java.io.IOException;

/**
 * A connection that must shake hands (TLS) before it carries anything; the listener runs the handshake off its accept
 * loop and checks the access policy on the credentials it yields.
 */
public interface Handshaking {

    /**
     * Runs the handshake; blocks until it is done or fails.
     *
     * @throws IOException naming the peer and the cause if it fails
     */
    void handshake() throws IOException;

    /** What the handshake proved about the peer. */
    PeerCredentials peer();

    /** What to close to abort a handshake blocked in another thread, without waiting for its locks. */
    AutoCloseable abortHandle();

    /** The peer's address, for messages. */
    String remote();
}
