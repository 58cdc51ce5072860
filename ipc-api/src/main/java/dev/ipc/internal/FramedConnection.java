package dev.ipc.internal;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The skeleton every {@link Connection} is built on, and the one view of a connection that the runtime
 * ({@code IpcServer}, {@code IpcClient}) and the listeners use: framing both ways, the locks, the write batching, the
 * raw streams, the closed flag, and what the runtime's watchdogs read.
 *
 * <p>A transport supplies three primitives: {@link #readInto(ByteBuffer)} (one read that waits at most the read
 * timeout), {@link #writeFully(ByteBuffer[])} (write every remaining byte, blocking) and {@link #release(Closer)}
 * (close the socket), plus {@link #closeOutput()} for a half-close. Everything else, and every rule about frames, lives
 * here once.
 *
 * <p>Sending: a message that fits the write buffer goes out with its length in one write. A sender that finds another
 * thread writing queues its frame, and that thread writes everything queued in one go when its own write returns: many
 * messages per system call exactly when senders outpace the socket, and no added latency when they don't.
 * {@link #write(ByteBuffer)} queues a frame without asking for it to be written, so one thread's small messages go out
 * many to a system call; the queue is the bound on what waits in memory ({@value #QUEUE_CAPACITY} bytes, twice: one
 * half fills while the other is written), and a sender that finds it full writes it itself, waiting for the kernel.
 */
public abstract class FramedConnection implements Connection {

    private static final Logger LOG = LoggerFactory.getLogger(FramedConnection.class);

    /** Size of the read and write buffers; messages up to this size less 4 go out in one copy and one write. */
    protected static final int BUFFER_SIZE = 32 * 1024;
    /** Largest slice of a heap array handed to a write at once, bounding the JDK's temporary direct buffers. */
    protected static final int CHUNK = 1024 * 1024;
    /** Room for frames queued by senders that found another thread writing. */
    private static final int QUEUE_CAPACITY = 64 * 1024;

    /** How the connection is named in messages and logs. */
    protected final String label;
    /** Held around every receive and raw read. */
    protected final ReentrantLock readLock = new ReentrantLock();
    /** Held around every write. */
    protected final ReentrantLock writeLock = new ReentrantLock();
    /** Set once, by {@link #close()}. */
    protected final AtomicBoolean closed = new AtomicBoolean();
    /** Whether {@link #shutdownOutput()} has run: nothing more may be sent. */
    private volatile boolean outputShut;

    private final int maxFrameSize;
    private final boolean direct;
    private final FrameReader reader; // guarded by readLock
    private final InputStream input = new RawInput();
    private final OutputStream output = new RawOutput();
    private volatile long writeCount; // written under writeLock only
    /** Whether a frame that breaks the framing leaves the connection open for an answer (guarded by readLock). */
    private boolean answerViolations;
    /** The violation that ended framed reading, rethrown by every later receive (guarded by readLock). */
    private ProtocolException violation;

    // Guarded by writeLock.
    private final ByteBuffer writeBuffer;
    private final ByteBuffer header;
    private final ByteBuffer oneByte = ByteBuffer.allocate(1);
    private final ByteBuffer[] one = new ByteBuffer[1];
    private final ByteBuffer[] frame = new ByteBuffer[2];

    // Frames queued by senders that found another thread writing; guarded by queueLock, allocated on first
    // contention. 'draining' is the buffer being written while 'queue' fills.
    private final ReentrantLock queueLock = new ReentrantLock();
    private ByteBuffer queue;
    private ByteBuffer draining;
    /** Whether the queue holds frames; written under queueLock, read without it on the hot path. */
    private volatile boolean queued;
    /** Whether a frame in the queue came from send(), whose caller expects it written without a flush. */
    private volatile boolean flushWanted;
    /** Frames in the queue (guarded by queueLock). */
    private int queuedFrames;
    /** Frames and payload bytes of a batch whose write failed part-way, for close to report (guarded by writeLock). */
    private int unsentFrames;

    private long unsentBytes;

    /** How long close() waits for queued frames to go out; zero for no limit. */
    private final Duration closeTimeout;

    /**
     * @param direct whether the buffers are direct (for channels) or on the heap (for streams, such as TLS)
     * @param maxFrameSize the largest message sent or received
     */
    @SuppressWarnings("this-escape") // the reader calls readInto only once the connection is in use
    protected FramedConnection(String label, boolean direct, int maxFrameSize) {
        this(
                label,
                direct,
                maxFrameSize,
                ConnectionOptions.CLOSE_TIMEOUT.defaultValue().orElseThrow());
    }

    /**
     * @param direct whether the buffers are direct (for channels) or on the heap (for streams, such as TLS)
     * @param options the connection's options: its frame limit and close timeout
     */
    protected FramedConnection(String label, boolean direct, ConnectionOptions options) {
        this(
                label,
                direct,
                options.get(ConnectionOptions.MAX_FRAME_SIZE),
                options.get(ConnectionOptions.CLOSE_TIMEOUT));
    }

    @SuppressWarnings("this-escape") // the reader calls readInto only once the connection is in use
    private FramedConnection(String label, boolean direct, int maxFrameSize, Duration closeTimeout) {
        this.label = Objects.requireNonNull(label, "label");
        this.direct = direct;
        this.maxFrameSize = maxFrameSize;
        this.closeTimeout = closeTimeout;
        this.writeBuffer = allocate(BUFFER_SIZE);
        this.header = allocate(4);
        this.reader = new FrameReader(allocate(BUFFER_SIZE), this::readInto, label, maxFrameSize);
    }

    private ByteBuffer allocate(int capacity) {
        return direct ? ByteBuffer.allocateDirect(capacity) : ByteBuffer.allocate(capacity);
    }

    // ---- the transport's primitives -------------------------------------------------------------------

    /** One read that waits at most the read timeout for data; the count, or -1 at end of stream. */
    protected abstract int readInto(ByteBuffer destination) throws IOException;

    /**
     * Writes every remaining byte of {@code sources}, in order, blocking until done; the caller holds the write lock. A
     * failure may leave part of them written.
     */
    protected abstract void writeFully(ByteBuffer[] sources) throws IOException;

    /** Ends this side's output at the transport (a FIN, or TLS's close_notify); the caller holds the write lock. */
    protected abstract void closeOutput() throws IOException;

    /**
     * Runs while {@link #close()} still holds the write lock, when no write was in progress, after frames already
     * queued went out: where a transport says goodbye (TLS's close_notify). Does nothing by default.
     */
    protected void beforeRelease() throws IOException {}

    /** Closes the transport's resources, recording failures in {@code closer}; wakes every blocked thread. */
    protected abstract void release(Closer closer);

    /** Attaches descriptors to the next write; only called where {@link #canPassDescriptors()} is true. */
    protected void attachDescriptors(FileDescriptor[] descriptors) throws IOException {
        throw new UnsupportedOperationException(whyNoDescriptors());
    }

    /** Why this connection cannot pass descriptors, for the exception. */
    protected String whyNoDescriptors() {
        return "this transport does not pass them";
    }

    // ---- what the runtime reads --------------------------------------------------------------------

    /**
     * When the first byte of a frame that has not yet arrived whole came in ({@link System#nanoTime()}), or 0 if none
     * is half-received; for watchdogs that cut off a peer that stops mid-frame.
     */
    public final long partialFrameSince() {
        return reader.partialSince();
    }

    /**
     * How many writes to the socket have begun and ended, counted together: odd while one is in progress. A watchdog
     * that sees the same odd count for a while knows a write has stalled that long. A counter rather than a time, so
     * that the hot path reads no clock.
     */
    public final long writeCount() {
        return writeCount;
    }

    /**
     * Threads that may block on this connection: virtual where the JVM has them and the transport's blocking calls work
     * in them, else daemon platform threads.
     */
    public ThreadFactory threads(String name) {
        return Threads.factory(name, true);
    }

    /** Who is on the other side, for messages: an address where the transport has one, else the credentials. */
    public String remote() {
        return peer().toString();
    }

    /**
     * Runs the transport's own handshake (TLS's), if it has one, before the connection carries anything; blocks until
     * it is done. Listeners run it off their accept loop and check the access policy on the {@link #peer()} it proves.
     *
     * @throws IOException naming the peer and the cause if it fails
     */
    public void handshake() throws IOException {}

    /** Whether {@link #handshake()} does anything: until it is done, nothing can be sent to say why it was stopped. */
    public boolean hasHandshake() {
        return false;
    }

    /** What to close to abort a {@link #handshake()} blocked in another thread, without waiting for its locks. */
    public AutoCloseable abortHandle() {
        return this;
    }

    // ---- sending ------------------------------------------------------------------------------------

    @Override
    public final void send(byte[] message) throws IOException {
        Objects.requireNonNull(message, "message");
        send(message, 0, message.length);
    }

    @Override
    public final void send(byte[] message, int offset, int length) throws IOException {
        Objects.requireNonNull(message, "message");
        Objects.checkFromIndexSize(offset, length, message.length);
        send(ByteBuffer.wrap(message, offset, length));
    }

    @Override
    public final void send(ByteBuffer message) throws IOException {
        int length = sendable(message);
        if (!writeLock.tryLock()) {
            if (enqueue(message, length, true)) {
                drainIfIdle();
                return;
            }
            writeLock.lock();
        }
        try {
            ensureOutputOpen();
            writeQueued();
            writeFrame(message, length);
        } catch (IOException e) {
            throw fail(e); // part of a frame may be out: the stream can't be trusted any more
        } finally {
            writeLock.unlock();
        }
        drainIfIdle();
    }

    @Override
    public final void write(byte[] message) throws IOException {
        Objects.requireNonNull(message, "message");
        write(ByteBuffer.wrap(message));
    }

    @Override
    public final void write(ByteBuffer message) throws IOException {
        int length = sendable(message);
        if (enqueue(message, length, false)) {
            return;
        }
        // The queue is full, or the message is larger than it: write what is queued, then queue this one or write it.
        writing(() -> {
            ensureOutputOpen();
            writeQueued();
            if (!enqueue(message, length, false)) {
                writeFrame(message, length);
            }
        });
    }

    @Override
    public final void flush() throws IOException {
        writing(() -> {
            ensureOpen();
            writeQueued();
        });
    }

    /**
     * Runs {@code step} holding the write lock; a failure fails the connection (part of a frame may be out). Then
     * writes what other senders queued meanwhile.
     */
    private void writing(Threads.IoAction step) throws IOException {
        writeLock.lock();
        try {
            step.run();
        } catch (IOException e) {
            throw fail(e);
        } finally {
            writeLock.unlock();
        }
        drainIfIdle();
    }

    @Override
    public final void sendWithDescriptors(byte[] message, FileDescriptor... descriptors) throws IOException {
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(descriptors, "descriptors");
        if (!canPassDescriptors()) {
            throw new UnsupportedOperationException(
                    "cannot pass file descriptors on " + label + ": " + whyNoDescriptors());
        }
        checkSendable(message.length);
        writeLock.lock();
        try {
            ensureOutputOpen();
            writeQueued();
            attachDescriptors(descriptors.clone());
            writeFrame(ByteBuffer.wrap(message), message.length);
        } catch (IOException e) {
            throw fail(e);
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public boolean canPassDescriptors() {
        return false;
    }

    @Override
    public List<FileDescriptor> takeReceivedDescriptors() {
        return List.of();
    }

    /** The length of a message about to be sent or queued, once it is known to be one that may be. */
    private int sendable(ByteBuffer message) throws SocketException {
        Objects.requireNonNull(message, "message");
        int length = message.remaining();
        checkSendable(length);
        ensureOutputOpen();
        return length;
    }

    private void checkSendable(int length) {
        if (length > maxFrameSize) {
            throw new IllegalArgumentException("message of " + length + " bytes is over maxFrameSize " + maxFrameSize
                    + " on " + label + "; nothing was sent");
        }
    }

    /**
     * Copies a frame into the queue if it fits; false if it doesn't (the caller then writes it itself).
     *
     * @param flush whether the sender expects it written without a flush: then whoever holds the write lock writes it
     *     when its own write is done
     */
    private boolean enqueue(ByteBuffer message, int length, boolean flush) throws IOException {
        if (length + 4 > QUEUE_CAPACITY) {
            return false;
        }
        queueLock.lock();
        try {
            ensureOpen();
            if (queue == null) {
                queue = allocate(QUEUE_CAPACITY);
                draining = allocate(QUEUE_CAPACITY);
            }
            if (queue.remaining() < length + 4) {
                return false;
            }
            queue.putInt(length).put(message);
            queuedFrames++;
            if (!queued) { // a volatile write costs a fence: one per batch, not one per frame
                queued = true;
            }
            if (flush && !flushWanted) {
                flushWanted = true;
            }
            return true;
        } finally {
            queueLock.unlock();
        }
    }

    /** Writes what other senders queued; the caller holds the write lock. A no-op without a lock when none did. */
    private void writeQueued() throws IOException {
        while (queued) {
            ByteBuffer batch;
            queueLock.lock();
            try {
                batch = queue;
                queue = draining;
                draining = batch;
                queued = false;
                flushWanted = false;
                queuedFrames = 0;
            } finally {
                queueLock.unlock();
            }
            batch.flip();
            try {
                writeOut(batch);
            } catch (IOException e) {
                countUnsent(batch);
                throw e;
            } finally {
                batch.clear();
            }
        }
    }

    /** Adds the frames of a batch that its failed write did not carry whole to the count close() reports. */
    private void countUnsent(ByteBuffer batch) {
        for (int at = 0; at + 4 <= batch.limit(); ) {
            int length = batch.getInt(at);
            int end = at + 4 + length;
            if (end > batch.position()) {
                unsentFrames++;
                unsentBytes += length;
            }
            at = end;
        }
    }

    /**
     * After the write lock is released: if frames were queued meanwhile by senders that found it taken, write them,
     * unless another thread holds the lock again (it will).
     */
    private void drainIfIdle() throws IOException {
        while (flushWanted && writeLock.tryLock()) {
            try {
                ensureOpen();
                writeQueued();
            } catch (IOException e) {
                throw fail(e);
            } finally {
                writeLock.unlock();
            }
        }
    }

    private void writeFrame(ByteBuffer payload, int length) throws IOException {
        if (length <= writeBuffer.capacity() - 4) {
            writeBuffer.clear();
            writeBuffer.putInt(length).put(payload).flip();
            writeOut(writeBuffer);
            return;
        }
        header.clear();
        header.putInt(length).flip();
        int limit = payload.limit();
        try {
            if (!payload.isDirect()) {
                payload.limit(payload.position() + Math.min(CHUNK, length));
            }
            frame[0] = header;
            frame[1] = payload;
            writeOut(frame);
            while (payload.limit() < limit) {
                payload.limit(payload.position() + Math.min(CHUNK, limit - payload.position()));
                writeOut(payload);
            }
        } finally {
            frame[1] = null;
            payload.limit(limit);
        }
    }

    private void writeOut(ByteBuffer source) throws IOException {
        one[0] = source;
        try {
            writeOut(one);
        } finally {
            one[0] = null;
        }
    }

    private void writeOut(ByteBuffer[] sources) throws IOException {
        writeCount = writeCount + 1;
        try {
            writeFully(sources);
        } finally {
            writeCount = writeCount + 1;
        }
    }

    @Override
    public final OutputStream output() {
        return output;
    }

    @Override
    public final void shutdownOutput() throws IOException {
        writeLock.lock();
        try {
            ensureOpen();
            writeQueued();
            closeOutput();
            outputShut = true;
        } finally {
            writeLock.unlock();
        }
    }

    // ---- receiving ----------------------------------------------------------------------------------

    /**
     * From now on, a frame that breaks the framing (a length over the limit or with its top bit set) ends framed
     * reading but leaves the connection open, so that the runtime can answer with an ERROR and close gracefully: every
     * later receive throws the same {@link ProtocolException}, the raw streams still work. By default such a frame
     * closes the connection.
     */
    public final void answerViolations() {
        readLock.lock();
        try {
            answerViolations = true;
        } finally {
            readLock.unlock();
        }
    }

    /**
     * Lowers the largest frame received from the next one on (a protocol's version may fix it once the connection is
     * open); sending keeps the limit the connection was made with.
     */
    public final void limitIncoming(int maxFrameSize) {
        readLock.lock();
        try {
            reader.limit(Math.min(maxFrameSize, this.maxFrameSize));
        } finally {
            readLock.unlock();
        }
    }

    /**
     * Counts what arrives in {@code budget}: see {@link FrameReader#budget(MemoryBudget)}. A frame dropped for want of
     * room is reported by {@link OverBudgetException} and leaves the connection open and in step.
     */
    public final void budget(MemoryBudget budget) {
        readLock.lock();
        try {
            reader.budget(budget);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public final byte[] receive() throws IOException {
        readLock.lock();
        try {
            ensureReadable();
            return reader.receive();
        } catch (IOException e) {
            throw failedReceive(e);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public final int receive(ByteBuffer destination) throws IOException {
        readLock.lock();
        try {
            ensureReadable();
            return reader.receive(destination);
        } catch (IOException e) {
            throw failedReceive(e);
        } finally {
            readLock.unlock();
        }
    }

    private void ensureReadable() throws IOException {
        ensureOpen();
        if (violation != null) {
            throw violation;
        }
    }

    private IOException failedReceive(IOException e) {
        if (e instanceof SocketTimeoutException || e instanceof OverBudgetException) {
            return e; // the stream is in step: the next receive goes on
        }
        if (answerViolations && e instanceof ProtocolException) {
            violation = (ProtocolException) e;
            return e;
        }
        return fail(e);
    }

    /**
     * Ends this side gracefully: sends {@code lastFrame} (an ERROR, say; none if null), shuts the output, then reads
     * and drops what the peer still sends until it closes its side or {@code linger} has passed, and closes. The peer
     * reads everything sent before the close: closing with its bytes unread would reset the connection, and a reset may
     * discard what was sent but not yet read. Blocks up to {@code linger}; never throws.
     */
    public final void finish(byte[] lastFrame, Duration linger) {
        try {
            if (lastFrame != null) {
                send(lastFrame);
            }
            shutdownOutput();
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(this, null); // the peer is gone already: nothing is left to deliver
            return;
        }
        discardInput(linger);
        Closer.closeQuietly(this, null);
    }

    /** Reads and drops raw input until the peer closes its side, or for {@code linger} at most, then returns. */
    public final void discardInput(Duration linger) {
        if (linger.isZero()) {
            return;
        }
        try {
            Deadline.within(linger, this, "linger", () -> {
                ByteBuffer sink = ByteBuffer.allocate(BUFFER_SIZE);
                readLock.lock();
                try {
                    while (isOpen() && reader.drop(sink) >= 0) {
                        // dropped
                    }
                } finally {
                    readLock.unlock();
                }
            });
        } catch (IOException | RuntimeException e) {
            // Closed at the deadline, or the peer reset: either way the lingering is over.
        }
    }

    @Override
    public final InputStream input() {
        return input;
    }

    // ---- closing ------------------------------------------------------------------------------------

    @Override
    public boolean isOpen() {
        return !closed.get();
    }

    /**
     * {@inheritDoc}
     *
     * <p>Frames accepted but still queued go out first, waiting at most {@link ConnectionOptions#CLOSE_TIMEOUT} for the
     * writer before this one and for the kernel; those that could not go out are counted in the {@link IOException}
     * thrown, after the connection is closed all the same.
     */
    @Override
    public final void close() throws IOException {
        close(true);
    }

    /**
     * Closes at once, for a runtime that gives up on the connection: frames still queued are dropped rather than waited
     * for (a peer that reads nothing must not hold up the thread that closes), and the transport says goodbye only if
     * no write is in progress. Never throws.
     */
    public final void abort() {
        try {
            close(false);
        } catch (IOException e) {
            LOG.debug("closing {}: {}", label, e.toString());
        }
    }

    private void close(boolean flush) throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.debug("connection closed: {}", label);
        Closer closer = new Closer();
        long start = System.nanoTime();
        IOException flushFailure = null;
        if (flush && queued ? lockWithin(closeTimeout) : writeLock.tryLock()) {
            try {
                if (flush && queued) { // no timer for a close with nothing queued, the usual case
                    Duration left = closeTimeout.isZero()
                            ? Duration.ZERO
                            : closeTimeout.minusNanos(System.nanoTime() - start).plusNanos(1);
                    try {
                        Deadline.within(
                                left.isNegative() ? Duration.ofNanos(1) : left,
                                () -> release(new Closer()),
                                "queued messages were not sent within closeTimeout " + closeTimeout,
                                this::writeQueued);
                    } catch (IOException e) {
                        flushFailure = e; // what it left unsent is counted below
                    }
                }
                closer.run(this::beforeRelease);
            } finally {
                writeLock.unlock();
            }
        }
        String unsent = unsent();
        release(closer);
        if (unsent != null) {
            IOException lost = new IOException("closed " + label + " with " + unsent, flushFailure);
            if (flush) {
                closer.run(() -> {
                    throw lost;
                });
            } else {
                LOG.debug("{}", lost.getMessage());
            }
        } else if (flushFailure != null) {
            IOException failed = flushFailure;
            closer.run(() -> {
                throw failed;
            });
        }
        closer.rethrow();
    }

    /** Takes the write lock, waiting at most {@code timeout} (zero: no limit); whether it was taken. */
    private boolean lockWithin(Duration timeout) {
        try {
            if (timeout.isZero()) {
                writeLock.lockInterruptibly();
                return true;
            }
            return writeLock.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * What close drops: the frames still queued and those of a batch whose write failed, as "N messages (B bytes) that
     * were accepted but not sent", or null if none.
     */
    private String unsent() {
        long frames;
        long bytes;
        queueLock.lock();
        try {
            frames = queuedFrames;
            bytes = queue == null ? 0 : queue.position() - 4L * queuedFrames;
            queuedFrames = 0;
            queued = false;
            flushWanted = false;
            if (queue != null) {
                queue.clear();
            }
        } finally {
            queueLock.unlock();
        }
        if (writeLock.tryLock()) {
            try {
                frames += unsentFrames;
                bytes += unsentBytes;
            } finally {
                writeLock.unlock();
            }
        }
        return frames == 0
                ? null
                : frames + (frames == 1 ? " message (" : " messages (") + bytes
                        + " bytes) that write or send had accepted but not sent: the peer did not take them in time"
                        + " (closeTimeout " + closeTimeout + "), or a writer before them was stuck or failed";
    }

    /** Throws if closed. */
    protected final void ensureOpen() throws SocketException {
        if (closed.get()) {
            throw new SocketException("connection " + label + " is closed");
        }
    }

    /** Refuses a write after {@link #shutdownOutput()}, saying so, and leaves the connection (its reading) alone. */
    private void ensureOutputOpen() throws SocketException {
        ensureOpen();
        if (outputShut) {
            throw new SocketException("cannot send on connection " + label + ": its output was shut down"
                    + " (shutdownOutput); reading goes on");
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
            byte[] single = new byte[1];
            int count = read(single, 0, 1);
            return count < 0 ? -1 : single[0] & 0xff;
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

    private final class RawOutput extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            writeLock.lock();
            try {
                ensureOutputOpen();
                writeQueued();
                oneByte.clear();
                oneByte.put((byte) b).flip();
                FramedConnection.this.writeOut(oneByte);
            } finally {
                writeLock.unlock();
            }
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            Objects.checkFromIndexSize(offset, length, bytes.length);
            writeLock.lock();
            try {
                ensureOutputOpen();
                writeQueued();
                for (int done = 0; done < length; ) {
                    int count = Math.min(CHUNK, length - done);
                    FramedConnection.this.writeOut(ByteBuffer.wrap(bytes, offset + done, count));
                    done += count;
                }
            } finally {
                writeLock.unlock();
            }
        }

        @Override
        public void close() throws IOException {
            if (isOpen()) {
                shutdownOutput();
            }
        }
    }
}
