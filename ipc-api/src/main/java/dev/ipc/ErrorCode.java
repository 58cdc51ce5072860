package dev.ipc;

/** Why a server refused a request or a connection; the code travels in the protocol's ERROR frame. */
public enum ErrorCode {
    /** The peer broke the protocol: a bad hello, an unknown frame type, a frame too short. */
    PROTOCOL_ERROR(1),
    /** The client asked for a protocol version this server does not speak. */
    UNSUPPORTED_VERSION(2),
    /**
     * The handler failed unexpectedly (it threw, its stage failed, it returned no reply): the message names only an
     * incident that the server logged with the cause, never the cause itself.
     */
    INTERNAL(3),
    /** The server is shutting down and takes no new requests. */
    SHUTTING_DOWN(4),
    /** The connection has as many requests in flight as the server allows. */
    TOO_MANY_REQUESTS(5),
    /** The server, or this peer's user, has as many connections as allowed. */
    TOO_MANY_CONNECTIONS(6),
    /** A frame was longer than the server's maxFrameSize. */
    FRAME_TOO_LARGE(7),
    /** The hello did not come in time, a frame stopped half way, or the connection sat idle too long. */
    TIMEOUT(8),
    /** The client did not prove it knows the server's shared secret, or the server requires one it lacks. */
    UNAUTHORIZED(9),
    /**
     * The request was cancelled: its client sent CANCEL, or its deadline passed before its reply was ready; the reply,
     * if the handler made one, was dropped (protocol version 3).
     */
    CANCELLED(10),
    /**
     * An error of the application's own, with a number of 1000 to 65535
     * ({@link ApplicationException#applicationCode()}) and its message: a handler throws {@link ApplicationException}
     * and the caller catches it.
     */
    APPLICATION(ApplicationException.FIRST_CODE),
    /** A code this version of the library does not know. */
    UNKNOWN(0);

    private final int code;

    ErrorCode(int code) {
        this.code = code;
    }

    /** The number on the wire; for {@link #APPLICATION}, the first of the application's numbers. */
    public int code() {
        return code;
    }

    /**
     * The constant for a number on the wire: {@link #APPLICATION} from 1000 up, {@link #UNKNOWN} for other numbers not
     * known here.
     */
    public static ErrorCode of(int code) {
        if (code >= ApplicationException.FIRST_CODE && code <= ApplicationException.LAST_CODE) {
            return APPLICATION;
        }
        for (ErrorCode value : values()) {
            if (value.code == code) {
                return value;
            }
        }
        return UNKNOWN;
    }
}
