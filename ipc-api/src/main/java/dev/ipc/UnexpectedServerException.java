package dev.ipc;

/**
 * The listener on a Unix socket runs as a user the client does not expect ({@link ConnectionOptions#EXPECT_SERVER}):
 * another local user may have taken the path first. Nothing was sent to it.
 */
public final class UnexpectedServerException extends AuthenticationException {

    private static final long serialVersionUID = 1L;

    /** An exception whose message names the listener's user and what was expected. */
    public UnexpectedServerException(String message) {
        super(message);
    }
}
