package dev.ipc;

import java.io.IOException;

/**
 * The connection a call was in flight on went away before its reply came: the server closed it, died or shut down. The
 * call may or may not have run on the server; it is never resent by the library.
 */
public class ConnectionLostException extends IOException {

    private static final long serialVersionUID = 1L;

    /** The loss, with its cause. */
    public ConnectionLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
