package dev.ipc.internal;

import dev.ipc.ErrorCode;
import dev.ipc.Listener;
import java.io.IOException;

/** A {@link Listener} whose connections are {@link FramedConnection}s: what every transport's listener is. */
public interface FramedListener extends Listener {

    @Override
    FramedConnection accept() throws IOException;

    /** Told of each connection the listener refuses before {@link #accept()} returns it. */
    @FunctionalInterface
    interface RefusalWatcher {
        /**
         * {@code peer} (as the connection names it) was refused with {@code code} (what its ERROR said, or would have
         * said where the peer could not be told), for {@code why}. Called on the listener's threads: it must be quick.
         */
        void refused(String peer, ErrorCode code, String why);
    }

    /**
     * Tells {@code watcher} of every connection refused from now on: by the access policy, a failed TLS or
     * shared-secret handshake, a handshake limit. Does nothing where the listener refuses nothing itself.
     */
    default void watchRefusals(RefusalWatcher watcher) {}
}
