package dev.ipc;

import java.io.IOException;

/**
 * A peer failed the shared-secret check ({@link ConnectionOptions#SECRET}): it proved no knowledge of the secret, a
 * wrong one, or asked for a secret where none is configured. Nothing of the application's passed on that connection.
 */
public class AuthenticationException extends IOException {

    private static final long serialVersionUID = 1L;

    /** An exception with a message that names the endpoint and the cause. */
    public AuthenticationException(String message) {
        super(message);
    }
}
