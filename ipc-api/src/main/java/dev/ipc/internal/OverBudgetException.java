package dev.ipc.internal;

import java.io.IOException;
import java.util.Arrays;

/**
 * A frame was read to its end and dropped because the server's {@link MemoryBudget} had no room for it; the stream is
 * still in step, so the connection goes on. Carries the frame's first bytes (its type and request id) so that the
 * server can refuse that request.
 */
public final class OverBudgetException extends IOException {

    private static final long serialVersionUID = 1L;

    private final byte[] head;
    private final int length;

    /** A dropped frame of {@code length} bytes that began with {@code head}. */
    public OverBudgetException(byte[] head, int length, String message) {
        super(message);
        this.head = head.clone();
        this.length = length;
    }

    /** The frame's first bytes, at most 5: its type and, for a request, its id. */
    public byte[] head() {
        return Arrays.copyOf(head, head.length);
    }

    /** How long the dropped frame was. */
    public int length() {
        return length;
    }
}
