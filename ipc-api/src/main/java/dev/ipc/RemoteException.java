package dev.ipc;

import java.io.IOException;
import java.util.Objects;

/** The server answered a call, or the connection, with an error: its code and its message. */
public class RemoteException extends IOException {

    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final String remoteMessage;

    /** An error reply. */
    public RemoteException(ErrorCode code, String message) {
        this(code, message, code + ": " + message);
    }

    /** An error reply whose {@link #getMessage()} is {@code text}. */
    RemoteException(ErrorCode code, String message, String text) {
        super(text);
        this.code = Objects.requireNonNull(code, "code");
        this.remoteMessage = Objects.requireNonNull(message, "message");
    }

    /** The message as the server sent it, without the code in front. */
    public String remoteMessage() {
        return remoteMessage;
    }

    /** What kind of error the server reported. */
    public ErrorCode code() {
        return code;
    }
}
