package dev.ipc;

/**
 * The server did not run this call: it was shutting down, and either refused the request
 * ({@link ErrorCode#SHUTTING_DOWN}) or ended the connection after answering every request it had taken, this one not
 * among them. Sending it again (to a server that is up) runs it once.
 */
public final class NotRunException extends RemoteException {

    private static final long serialVersionUID = 1L;

    /** A call the server did not run, and why. */
    public NotRunException(String message) {
        super(ErrorCode.SHUTTING_DOWN, message);
    }
}
