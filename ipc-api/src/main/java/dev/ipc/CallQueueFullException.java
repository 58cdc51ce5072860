package dev.ipc;

import java.io.IOException;

/**
 * A call found {@link ClientOptions#MAX_QUEUED_CALLS} calls already waiting for a place among the server's requests in
 * flight, and was not sent: it did not run, and may be sent again later.
 */
public class CallQueueFullException extends IOException {

    private static final long serialVersionUID = 1L;

    /** A refusal that says why. */
    public CallQueueFullException(String message) {
        super(message);
    }
}
