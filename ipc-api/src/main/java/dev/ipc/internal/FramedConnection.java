package dev.ipc.internal;

import dev.ipc.Connection;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every {@link Connection} implementation shares: the locks, the closed flag, the receiving side
 * ({@link FrameReader} over the subclass's one read primitive) and the raw input stream.
 *
 * <p>A subclass supplies {@link #readInto(ByteBuffer)}, the sending side and {@link #close()}, which must set
 * {@link #closed} first.
 */
public abstract class FramedConnection implements Connection, ConnectionState {

    private static final Logger LOG = LoggerFactory.getLogger(FramedConnection.class);

    /** How the connection is named in messages and logs. */
    protected final String label;
    /** Held around every receive and raw read. */
    protected final ReentrantLock readLock = new ReentrantLock();
    /** Held around every write. */
    protected final ReentrantLock writeLock = new ReentrantLock();
    /** Set once, by {@link #close()}. */
    protected final AtomicBoolean closed = new AtomicBoolean();

    private final FrameReader reader; // guarded by readLock
    private volatile long writeCount; // written under writeLock only
    private final InputStream input = new RawInput();

    /** @param readBuffer the receive buffer, empty; a message up to its capacity is read in one go */
    @SuppressWarnings("this-escape") // the reader calls readInto only once the connection is in use
    protected FramedConnection(String label, ByteBuffer readBuffer, int maxFrameSize) {
        this.label = Objects.requireNonNull(label, "label");
        this.reader = new FrameReader(readBuffer, this::readInto, label, maxFrameSize);
    }

    /** One read that waits at most the read timeout for data; the count, or -1 at end of stream. */
    protected abstract int readInto(ByteBuffer destination) throws IOException;

    @Override
    public final byte[] receive() throws IOException {
        readLock.lock();
        try {
            ensureOpen();
            return reader.receive();
        } catch (IOException e) {
            throw e instanceof SocketTimeoutException ? e : fail(e);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public final int receive(ByteBuffer destination) throws IOException {
        readLock.lock();
        try {
            ensureOpen();
            return reader.receive(destination);
        } catch (IOException e) {
            throw e instanceof SocketTimeoutException ? e : fail(e);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public final long partialFrameSince() {
        return reader.partialSince();
    }

    @Override
    public final long writeCount() {
        return writeCount;
    }

    /**
     * Marks a write to the socket as begun; the caller holds the write lock and calls {@link #writeDone()} after. A
     * counter rather than a time, so that the hot path reads no clock.
     */
    protected final void writeStarted() {
        writeCount = writeCount + 1;
    }

    /** Marks the write begun with {@link #writeStarted()} as finished, done or failed. */
    protected final void writeDone() {
        writeCount = writeCount + 1;
    }

    @Override
    public final InputStream input() {
        return input;
    }

    /** Throws if closed. */
    protected final void ensureOpen() throws SocketException {
        if (closed.get()) {
            throw new SocketException("connection " + label + " is closed");
        }
    }

    /** Closes this connection after a fault that leaves its stream unusable, and returns the fault. */
    protected final IOException fail(IOException fault) {
        if (!closed.get()) {
            LOG.debug("connection {} failed: {}", label, fault.toString());
        }
        Closer.closeQuietly(this, fault);
        return fault;
    }

    @Override
    public String toString() {
        return "Connection[" + label + (isOpen() ? "" : ", closed") + "]";
    }

    private final class RawInput extends InputStream {
        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int count = read(one, 0, 1);
            return count < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            Objects.checkFromIndexSize(offset, length, bytes.length);
            if (length == 0) {
                return 0;
            }
            readLock.lock();
            try {
                ensureOpen();
                return reader.readRaw(bytes, offset, length);
            } finally {
                readLock.unlock();
            }
        }

        @Override
        public int available() throws IOException {
            readLock.lock();
            try {
                ensureOpen();
                return reader.buffered();
            } finally {
                readLock.unlock();
            }
        }

        @Override
        public void close() throws IOException {
            if (isOpen()) {
                shutdownInput();
            }
        }
    }
}
