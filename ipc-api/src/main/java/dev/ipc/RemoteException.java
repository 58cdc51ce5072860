package dev.ipc;

import java.io.IOException;
import java.util.Objects;

/** The server answered a call, or the connection, with an error: its code and its message. */
public class RemoteException extends IOException {

    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    /** An error reply. */
    public RemoteException(ErrorCode code, String message) {
        super(code + ": " + message);
        this.code = Objects.requireNonNull(code, "code");
    }

    /** What kind of error the server reported. */
    public ErrorCode code() {
        return code;
    }
}
