package dev.ipc.internal;

import dev.ipc.FrameTooLargeException;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The receiving half of the framing every connection shares: length checks before allocation, a buffer that a small
 * message arrives in with one read, large messages in an array of their own, and state that survives a read timeout, so
 * the next call resumes a half-read frame.
 *
 * <p>Not thread-safe: the connection holds its read lock around every call.
 */
public final class FrameReader {

    /** The smallest array a large frame starts in, before it grows with what arrives. */
    private static final int INITIAL_LARGE = 64 * 1024;
    /**
     * How much a large frame's array grows at a time: at most this many times the bytes that arrived (what a peer that
     * stops sending can make a connection hold; the server's budget bounds the sum), and few enough copies that a 1 MiB
     * frame is copied once in part (its first 64 KiB) before it is whole. Fourfold cost a 1 MiB stream a tenth of its
     * rate (two partial copies and three allocations a frame).
     */
    private static final int GROWTH = 16;

    /** Largest slice of an array handed to the source at once. */
    private static final int CHUNK = 1024 * 1024;

    /** Where bytes come from: one read, waiting at most the read timeout. */
    @FunctionalInterface
    public interface Source {
        /** Reads into {@code destination}; the count, or -1 at the end of the stream. */
        int read(ByteBuffer destination) throws IOException;
    }

    private final ByteBuffer buffer; // read mode: the unread bytes lie between position and limit
    private final Source source;
    private final String label;
    private volatile int maxFrameSize;
    private int pendingLength = -1;
    private byte[] pendingMessage;
    private int pendingFilled;
    /** Where large frames reserve their bytes as they arrive; null for no limit. */
    private MemoryBudget budget;
    /** What the frame being read has reserved so far. */
    private long pendingReserved;
    /** Whether the frame being read is dropped, the budget having no room for it; its first bytes are kept. */
    private boolean dropping;

    private final byte[] head = new byte[5];
    private int headFilled;
    /** When the first byte of a frame not yet complete arrived (System.nanoTime()), or 0; read by watchdogs. */
    private volatile long partialSince;

    /**
     * @param buffer an empty buffer the reader owns; its capacity is the largest message read in one go
     * @param label the connection's name in messages
     */
    public FrameReader(ByteBuffer buffer, Source source, String label, int maxFrameSize) {
        this.buffer = buffer.limit(0);
        this.source = source;
        this.label = label;
        this.maxFrameSize = maxFrameSize;
    }

    /** From the next frame on, frames longer than {@code maxFrameSize} are refused; set before it is read. */
    public void limit(int maxFrameSize) {
        this.maxFrameSize = maxFrameSize;
    }

    /**
     * From now on, each message is counted in {@code budget} from its arrival (the caller releases its length when it
     * is done with it), and a frame larger than the buffer reserves its bytes as they arrive: one that does not fit is
     * read to its end and dropped ({@link OverBudgetException}).
     */
    public void budget(MemoryBudget budget) {
        this.budget = budget;
    }

    /**
     * The next message, or null at a clean end of stream.
     *
     * @throws OverBudgetException if the budget had no room for it: it was read and dropped, and the stream is in step
     */
    public byte[] receive() throws IOException {
        int length = nextLength();
        if (length < 0) {
            return null;
        }
        byte[] message;
        if (length <= buffer.capacity()) {
            fillTo(length);
            message = new byte[length];
            buffer.get(message);
            if (budget != null) {
                budget.add(length); // small, and in memory already: counted, never refused
            }
        } else {
            message = readLarge();
        }
        frameDone();
        return message;
    }

    /** Receives the next message into {@code destination}; its length, or -1 at a clean end of stream. */
    public int receive(ByteBuffer destination) throws IOException {
        int length = nextLength();
        if (length < 0) {
            return -1;
        }
        if (length > destination.remaining()) {
            throw new IllegalArgumentException("the next message on " + label + " is " + length
                    + " bytes, over the buffer's " + destination.remaining()
                    + " remaining; it stays pending for a call with room for it");
        }
        if (length <= buffer.capacity()) {
            fillTo(length);
            int limit = buffer.limit();
            buffer.limit(buffer.position() + length);
            destination.put(buffer);
            buffer.limit(limit);
        } else {
            destination.put(readLarge());
            if (budget != null) {
                budget.release(length); // the caller's buffer holds it now
            }
        }
        frameDone();
        return length;
    }

    /** Raw bytes, with no framing: what is buffered first, then straight from the source. */
    public int readRaw(byte[] bytes, int offset, int length) throws IOException {
        if (pendingLength >= 0) {
            throw new IllegalStateException(
                    "a message on " + label + " is half received; finish it with receive() before reading raw bytes");
        }
        if (!buffer.hasRemaining()) {
            if (length >= buffer.capacity()) {
                return source.read(ByteBuffer.wrap(bytes, offset, Math.min(length, CHUNK)));
            }
            if (readSome() < 0) {
                return -1;
            }
        }
        int count = Math.min(length, buffer.remaining());
        buffer.get(bytes, offset, count);
        // Raw bytes have no frames to time, but what is buffered after them starts the first frame (a request sent in
        // the same write as the hello), whose clock runs from now.
        partialSince = buffer.hasRemaining() ? System.nanoTime() : 0;
        return count;
    }

    /**
     * Drops what is buffered and one read's worth more, whatever the framing state (the stream is being abandoned); the
     * count, or -1 at the end of the stream.
     */
    public int drop(ByteBuffer sink) throws IOException {
        pendingLength = -1;
        pendingMessage = null;
        dropping = false;
        releaseReserved();
        partialSince = 0;
        if (buffer.hasRemaining()) {
            int count = buffer.remaining();
            buffer.position(buffer.limit());
            return count;
        }
        sink.clear();
        return source.read(sink);
    }

    /** How many bytes are buffered and unread. */
    public int buffered() {
        return buffer.remaining();
    }

    /** See {@link FramedConnection#partialFrameSince()}. */
    public long partialSince() {
        return partialSince;
    }

    /** The length of the next frame, reading its header if not yet read; -1 at a clean end of stream. */
    private int nextLength() throws IOException {
        if (pendingLength >= 0) {
            return pendingLength;
        }
        while (buffer.remaining() < 4) {
            int had = buffer.remaining();
            if (readSome() < 0) {
                if (had == 0) {
                    return -1;
                }
                throw new EOFException(
                        "connection " + label + " ended inside a frame: after " + had + " of 4 length bytes");
            }
        }
        int length = buffer.getInt();
        if (length < 0) {
            throw new FrameTooLargeException(
                    length & 0xffffffffL,
                    "frame on " + label + " declares a negative length (" + length + ", 0x"
                            + Integer.toHexString(length) + "); the limit is maxFrameSize " + maxFrameSize);
        }
        if (length > maxFrameSize) {
            throw new FrameTooLargeException(
                    length,
                    "frame on " + label + " declares " + length + " bytes, over maxFrameSize "
                            + maxFrameSize
                            + (Codec.looksLikeTls(ByteBuffer.allocate(4)
                                            .putInt(length)
                                            .array())
                                    ? " (the bytes are a TLS record: the peer speaks TLS, so connect with tls://)"
                                    : ""));
        }
        pendingLength = length;
        return length;
    }

    /** Reads until the buffer holds {@code length} unread bytes; {@code length} fits its capacity. */
    private void fillTo(int length) throws IOException {
        while (buffer.remaining() < length) {
            int had = buffer.remaining();
            if (readSome() < 0) {
                throw truncated(had, length);
            }
        }
    }

    /**
     * Reads a frame larger than the buffer into an array of its own, resuming after a timeout. The array grows with the
     * bytes that arrive (sixteenfold, from 64 KiB or what is buffered), never far ahead of them to the declared length:
     * a peer that declares a large frame and sends a few bytes costs a few bytes more, not the frame. With a budget,
     * each growth is reserved first; when it does not fit, the rest of the frame is read and dropped.
     */
    private byte[] readLarge() throws IOException {
        try {
            if (dropping) {
                return dropRest();
            }
            if (pendingMessage == null) {
                int first = Math.min(pendingLength, Math.max(INITIAL_LARGE, buffer.remaining()));
                pendingFilled = 0;
                if (!reserve(first)) {
                    return startDropping();
                }
                pendingMessage = new byte[first];
            }
            while (pendingFilled < pendingLength) {
                if (pendingFilled == pendingMessage.length) {
                    int next = (int) Math.min(pendingLength, (long) GROWTH * pendingMessage.length);
                    if (!reserve(next - pendingMessage.length)) {
                        return startDropping();
                    }
                    pendingMessage = Arrays.copyOf(pendingMessage, next);
                }
                int room = pendingMessage.length - pendingFilled;
                if (buffer.hasRemaining()) {
                    int count = Math.min(buffer.remaining(), room);
                    buffer.get(pendingMessage, pendingFilled, count);
                    pendingFilled += count;
                    continue;
                }
                int count = source.read(ByteBuffer.wrap(pendingMessage, pendingFilled, Math.min(CHUNK, room)));
                if (count < 0) {
                    throw truncated(pendingFilled, pendingLength);
                }
                pendingFilled += count;
            }
            byte[] message = pendingMessage;
            pendingMessage = null;
            pendingReserved = 0; // the reservation passes to the caller with the message
            return message;
        } catch (SocketTimeoutException e) {
            throw e; // resumed by the next call, reservation and all
        } catch (IOException | RuntimeException e) {
            releaseReserved();
            throw e;
        }
    }

    private boolean reserve(int bytes) {
        if (budget == null) {
            return true;
        }
        if (!budget.tryReserve(bytes)) {
            return false;
        }
        pendingReserved += bytes;
        return true;
    }

    private void releaseReserved() {
        if (budget != null && pendingReserved > 0) {
            budget.release(pendingReserved);
        }
        pendingReserved = 0;
    }

    /** Gives up keeping the frame: keeps its first bytes, releases what it reserved, and drops the rest. */
    private byte[] startDropping() throws IOException {
        headFilled = pendingMessage == null ? 0 : Math.min(head.length, pendingFilled);
        if (headFilled > 0) {
            System.arraycopy(pendingMessage, 0, head, 0, headFilled);
        }
        pendingMessage = null;
        releaseReserved();
        dropping = true;
        return dropRest();
    }

    /** Reads the dropped frame to its end, keeping its first bytes, then throws {@link OverBudgetException}. */
    private byte[] dropRest() throws IOException {
        while (pendingFilled < pendingLength) {
            if (!buffer.hasRemaining() && readSome() < 0) {
                throw truncated(pendingFilled, pendingLength);
            }
            int count = Math.min(buffer.remaining(), pendingLength - pendingFilled);
            while (headFilled < head.length && headFilled < pendingFilled + count) {
                head[headFilled] = buffer.get(buffer.position() + headFilled - pendingFilled);
                headFilled++;
            }
            buffer.position(buffer.position() + count);
            pendingFilled += count;
        }
        int length = pendingLength;
        dropping = false;
        frameDone();
        throw new OverBudgetException(
                Arrays.copyOf(head, headFilled),
                length,
                "a frame of " + length + " bytes on " + label + " was read and dropped: the memory budget of "
                        + budget.limit() + " bytes has " + (budget.limit() - budget.used()) + " left");
    }

    private EOFException truncated(int got, int length) {
        return new EOFException(
                "connection " + label + " ended inside a frame: after " + got + " of " + length + " payload bytes");
    }

    /** Reads once into the buffer, keeping its unread bytes; the count, or -1 at end of stream. */
    private int readSome() throws IOException {
        buffer.compact();
        int count;
        try {
            count = source.read(buffer);
        } finally {
            buffer.flip();
        }
        if (count > 0 && partialSince == 0) {
            partialSince = System.nanoTime();
        }
        return count;
    }

    /** Marks the end of a frame: bytes already buffered belong to the next one, which starts now. */
    private void frameDone() {
        pendingLength = -1;
        partialSince = buffer.hasRemaining() ? System.nanoTime() : 0;
    }
}
