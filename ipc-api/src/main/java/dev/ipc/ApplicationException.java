package dev.ipc;

/**
 * An error of the application's own: its number and its message travel to the caller as they are.
 *
 * <p>A handler throws it (or fails its stage with it) to answer a request with an error the caller can act on, such as
 * "no such key"; {@link IpcClient#call(byte[])} throws it on the client with the same number and message. The number is
 * the application's to choose, from {@value #FIRST_CODE} to {@value #LAST_CODE} (the numbers below are the protocol's,
 * {@link ErrorCode}). Anything else a handler throws reaches the caller only as {@link ErrorCode#INTERNAL} with an
 * incident id, while the server logs the cause.
 *
 * <pre>{@code
 * // in a handler
 * throw new ApplicationException(1404, "no key " + key);
 * // in the caller
 * } catch (ApplicationException e) {
 *     if (e.applicationCode() == 1404) { ... }
 * }</pre>
 */
public class ApplicationException extends RemoteException {

    private static final long serialVersionUID = 1L;

    /** The first number an application may use. */
    public static final int FIRST_CODE = 1000;
    /** The last number an application may use. */
    public static final int LAST_CODE = 65535;

    private final int applicationCode;

    /**
     * An application error.
     *
     * @param applicationCode {@value #FIRST_CODE} to {@value #LAST_CODE}
     * @param message what the caller is told, as it is
     * @throws IllegalArgumentException if the number is outside the application's range
     */
    public ApplicationException(int applicationCode, String message) {
        super(ErrorCode.APPLICATION, message, "error " + checked(applicationCode) + ": " + message);
        this.applicationCode = applicationCode;
    }

    private static int checked(int code) {
        if (code < FIRST_CODE || code > LAST_CODE) {
            throw new IllegalArgumentException("an application's error numbers are " + FIRST_CODE + " to " + LAST_CODE
                    + " (those below are the protocol's), was " + code);
        }
        return code;
    }

    /** The application's number for the error, {@value #FIRST_CODE} to {@value #LAST_CODE}. */
    public int applicationCode() {
        return applicationCode;
    }
}
