package dev.ipc;

import java.net.ProtocolException;

/**
 * A frame declared a length over the receiving side's limit ({@link ConnectionOptions#MAX_FRAME_SIZE}), or with its top
 * bit set; nothing was read or allocated for it, and the connection cannot go on framing. Thrown by
 * {@link Connection#receive()}; a {@link ProtocolException}, with the declared length for whoever wants to say it.
 */
public final class FrameTooLargeException extends ProtocolException {

    private static final long serialVersionUID = 1L;

    private final long declared;

    /** The refusal of a frame that declared {@code declared} bytes (unsigned), its message naming it and the limit. */
    public FrameTooLargeException(long declared, String message) {
        super(message);
        this.declared = declared;
    }

    /** The length the frame declared, as the unsigned number on the wire. */
    public long declared() {
        return declared;
    }
}
