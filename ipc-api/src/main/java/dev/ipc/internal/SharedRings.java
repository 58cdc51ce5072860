package dev.ipc.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The data path of a connection moved into shared memory: two single-producer, single-consumer byte rings, one in each
 * side's memory file, and the Unix socket they were set up on, which now carries only wake-ups and liveness.
 *
 * <p>Each side writes only its own file (its ring's bytes, how far it has written, how far it has read the peer's ring,
 * whether its reader or writer sleeps) and maps the peer's read-only, so a peer can't write this side's memory; every
 * position read from the peer's file is checked before use, and one out of bounds ends this connection with a
 * {@link ProtocolException}. Positions are byte counts since the start, 64-bit, in the machine's byte order; a ring
 * byte lives at {@code position mod capacity}.
 *
 * <p>A reader with nothing to read spins for the spin budget, then marks itself asleep in its file and waits on the
 * socket; a writer that publishes bytes and finds the peer's reader marked asleep sends it one byte on the socket. The
 * same holds for a writer waiting for room. A fence between the mark and the re-check on one side, and between the
 * publish and the look at the mark on the other, means a wake-up is never missed. An end of stream on the socket means
 * the peer closed or died: the reader drains what was published and then reads the end of stream, a writer waiting for
 * room fails.
 *
 * <p>Threads: one reader (the connection's read lock) and one writer (its write lock) at a time. Of the two, whichever
 * waits first reads the socket; the other waits on a condition that the first signals whenever anything arrives.
 */
final class SharedRings {

    /** Bytes before the ring in each file: the control words, each on its own cache line, and room to grow. */
    static final int HEADER = 4096;
    /** The layout's version, in the file's first four bytes. */
    static final int LAYOUT = 1;

    static final int OFFSET_LAYOUT = 0;
    static final int OFFSET_CAPACITY = 4;
    static final int OFFSET_TAIL = 64;
    static final int OFFSET_HEAD = 128;
    static final int OFFSET_READER_ASLEEP = 192;
    static final int OFFSET_WRITER_ASLEEP = 256;
    static final int OFFSET_OUTPUT_ENDED = 320;

    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final int SPINS_PER_CLOCK = 64;
    /** How long a waiter spins before it starts to give the CPU to others between spins. */
    private static final long YIELD_AFTER_NANOS = 2_000;
    /** A waiter on the socket looks at the connection's state at least this often, whatever it is told. */
    private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private static final long CLOSED = 1L << 62;

    private final String label;
    private final SocketChannel socket;
    private final Mapping mine;
    private final Mapping theirs;
    private final ByteBuffer own; // this side's file, read-write
    private final ByteBuffer peer; // the peer's file, read-only
    /** This side's ring: moved only by the writer, under the connection's write lock. */
    private final ByteBuffer outRing;
    /** The peer's ring: moved only by the reader, under the connection's read lock. */
    private final ByteBuffer inRing;

    private final int outCapacity;
    private final int inCapacity;
    private final long spinNanos;
    private final ReadinessWaiter socketReady;
    private final boolean timed;
    /** Whether this side shut the socket's input (to wake a blocked read): it carries no more wake-ups. */
    private volatile boolean socketShut;

    // The writer's state (under the connection's write lock).
    private long tail;
    private long peerHead;
    private long writerSleeps;
    private long wokenPeerReader;

    // The reader's state (under the connection's read lock).
    private long head;
    private long readerSleeps;
    private long wokenPeerWriter;
    private volatile boolean inputShut;

    // The socket, shared by the two waiters.
    private final ReentrantLock doorbell = new ReentrantLock();
    private final Condition rang = doorbell.newCondition();
    private boolean socketTaken; // guarded by doorbell
    private final ByteBuffer wakeups = ByteBuffer.allocateDirect(64);
    private final ByteBuffer wakeup = ByteBuffer.allocateDirect(1);
    private final ReentrantLock ringing = new ReentrantLock();
    private volatile boolean peerGone;
    /**
     * Counts the doorbell's switches of the socket's mode, odd during one: a blocking read that begins while the socket
     * is non-blocking finds nothing, and junixsocket returns -1 for that as for an end of stream.
     */
    private volatile long modeChanges;

    /** Threads inside a ring operation, and {@link #CLOSED}: the memory is unmapped when both say so. */
    private final AtomicLong users = new AtomicLong();

    SharedRings(
            String label,
            SocketChannel socket,
            Mapping mine,
            int outCapacity,
            Mapping theirs,
            int inCapacity,
            Duration spin,
            boolean timed)
            throws IOException {
        this.label = label;
        this.socket = socket;
        this.mine = mine;
        this.theirs = theirs;
        this.own = mine.buffer();
        this.peer = theirs.buffer();
        this.outCapacity = outCapacity;
        this.inCapacity = inCapacity;
        this.outRing =
                own.duplicate().position(HEADER).limit(HEADER + outCapacity).slice();
        this.inRing =
                peer.duplicate().position(HEADER).limit(HEADER + inCapacity).slice();
        this.spinNanos = spin.toNanos();
        // Blocking unless reads have a timeout: a blocking read sees the peer's end at once on every backend, where a
        // selector may not report it (junixsocket's, at times), and shutdownInput wakes it.
        this.timed = timed;
        socket.configureBlocking(!timed);
        this.socketReady = new ReadinessWaiter(socket, SelectionKey.OP_READ);
    }

    // ---- reading -----------------------------------------------------------------------------------

    /**
     * Reads what the peer has published into {@code destination}, waiting at most {@code timeoutNanos} (zero: no limit)
     * for the first byte; the count, or -1 once the peer's output has ended (or the peer is gone) and its ring is
     * drained.
     */
    int read(ByteBuffer destination, long timeoutNanos) throws IOException {
        enter();
        try {
            return readShared(destination, timeoutNanos);
        } finally {
            exit();
        }
    }

    private int readShared(ByteBuffer destination, long timeoutNanos) throws IOException {
        if (inputShut) {
            return -1;
        }
        long available = available();
        if (available == 0) {
            available = awaitData(timeoutNanos);
            if (available < 0) {
                return -1;
            }
        }
        int count = (int) Math.min(available, destination.remaining());
        copyOut(destination, count);
        head += count;
        LONGS.setRelease(own, OFFSET_HEAD, head);
        VarHandle.fullFence();
        long asleep = (long) LONGS.getVolatile(peer, OFFSET_WRITER_ASLEEP);
        if ((asleep & 1) != 0 && asleep != wokenPeerWriter) {
            wokenPeerWriter = asleep;
            ring(false);
        }
        return count;
    }

    /**
     * A fault in the mapped memory (the JVM reports it as an {@link InternalError}): the peer cut its file short after
     * it was mapped. Compiled code reports such a fault a little after the access, so the connection catches it around
     * its calls into the rings rather than here.
     */
    ProtocolException unreadable(InternalError e) {
        ProtocolException failure = new ProtocolException("the shared memory of " + label + " became unreadable: the"
                + " peer cut its memory file short; the connection is closed");
        failure.initCause(e);
        return failure;
    }

    /** Bytes published and not yet read, checked against the ring's bounds. */
    private long available() throws ProtocolException {
        long published = (long) LONGS.getAcquire(peer, OFFSET_TAIL);
        long available = published - head;
        if (available < 0 || available > inCapacity) {
            throw new ProtocolException("the peer of " + label + " wrote a position out of bounds into its"
                    + " shared memory (" + published + " published with " + head + " read, ring of " + inCapacity
                    + " bytes); the connection is closed");
        }
        return available;
    }

    private long awaitData(long timeoutNanos) throws IOException {
        long start = System.nanoTime();
        for (int spins = 1; ; spins++) {
            long available = available();
            if (available > 0) {
                return available;
            }
            if (outputEnded()) {
                return endOfStream();
            }
            if (spins % SPINS_PER_CLOCK == 0) {
                ensureOpen();
                if (inputShut) {
                    return -1;
                }
                if (pause(start)) {
                    break;
                }
            }
            Thread.onSpinWait();
        }
        try {
            while (true) {
                sleep(OFFSET_READER_ASLEEP, readerSleeps += 2);
                long available = available();
                if (available > 0) {
                    return available;
                }
                if (outputEnded() || peerGone || inputShut) {
                    return endOfStream();
                }
                long left = timeoutNanos == 0 ? 0 : start + timeoutNanos - System.nanoTime();
                if (timeoutNanos > 0 && left <= 0) {
                    throw new SocketTimeoutException(
                            "no data on " + label + " within readTimeout " + Duration.ofNanos(timeoutNanos));
                }
                awaitSocket(left);
            }
        } finally {
            LONGS.setRelease(own, OFFSET_READER_ASLEEP, readerSleeps);
        }
    }

    /**
     * Between spins, every {@link #SPINS_PER_CLOCK}: whether the spin budget is spent (then the waiter sleeps), else
     * gives the CPU to any thread waiting for one, past the first {@link #YIELD_AFTER_NANOS}. A waiter mostly spins
     * right after it woke a thread of its own side (a worker with a request, a caller with its reply) that the next
     * bytes wait for: where CPUs are few (two, shared by both sides' threads, or one a side when pinned) a pure spin
     * held the CPU that thread needed, and a call over shared memory took longer than over the socket.
     */
    private boolean pause(long start) {
        long spun = System.nanoTime() - start;
        if (spun >= spinNanos) {
            return true;
        }
        if (spun >= YIELD_AFTER_NANOS) {
            Thread.yield();
        }
        return false;
    }

    /**
     * Marks this side's reader or writer asleep with a value it has never had (odd: {@code next - 1}), then fences, so
     * that the caller's look at the ring that follows sees the peer's last publish, or the peer sees the mark. A new
     * value for every sleep, the first and each after a wake-up that found nothing: a wake-up spent on a sleep that
     * needed none (the peer published, this side took the bytes and slept again before the peer looked) must not keep
     * the peer from waking the next one.
     */
    private void sleep(int offset, long next) {
        LONGS.setVolatile(own, offset, next - 1);
        VarHandle.fullFence();
    }

    /** At the end: what the peer published before it ended is still read first. */
    private long endOfStream() throws ProtocolException {
        long available = inputShut ? 0 : available();
        return available > 0 ? available : -1;
    }

    private boolean outputEnded() {
        return (long) LONGS.getAcquire(peer, OFFSET_OUTPUT_ENDED) != 0;
    }

    private void copyOut(ByteBuffer destination, int count) {
        int at = (int) (head & (inCapacity - 1));
        int first = Math.min(count, inCapacity - at);
        ByteBuffer from = inRing;
        from.limit(at + first).position(at);
        destination.put(from);
        if (first < count) {
            from.limit(count - first).position(0);
            destination.put(from);
        }
    }

    /** Reads see an end of stream from now on; what the peer sends is no longer read. */
    void shutdownInput() {
        inputShut = true;
        wakeSocketWaiter();
        doorbell.lock();
        try {
            rang.signalAll();
        } finally {
            doorbell.unlock();
        }
    }

    // ---- writing -----------------------------------------------------------------------------------

    /** Writes every remaining byte of {@code sources}, waiting for room as long as it takes. */
    void write(ByteBuffer[] sources) throws IOException {
        enter();
        try {
            writeShared(sources);
        } finally {
            exit();
        }
    }

    private void writeShared(ByteBuffer[] sources) throws IOException {
        for (ByteBuffer source : sources) {
            while (source.hasRemaining()) {
                long room = room(source.remaining());
                if (room == 0) {
                    room = awaitRoom();
                }
                int count = (int) Math.min(room, source.remaining());
                copyIn(source, count);
                tail += count;
                LONGS.setRelease(own, OFFSET_TAIL, tail);
                wakePeerReader();
            }
        }
    }

    /** Room in this side's ring; the peer's read position is looked at only when less than {@code wanted} is known. */
    private long room(int wanted) throws ProtocolException {
        long room = outCapacity - (tail - peerHead);
        if (room >= wanted) {
            return room;
        }
        long read = (long) LONGS.getAcquire(peer, OFFSET_HEAD);
        if (read < peerHead || read > tail) {
            throw new ProtocolException("the peer of " + label + " wrote a position out of bounds into its shared"
                    + " memory (read up to " + read + " of " + tail + " written, " + peerHead + " before); the"
                    + " connection is closed");
        }
        peerHead = read;
        return outCapacity - (tail - read);
    }

    private long awaitRoom() throws IOException {
        long start = System.nanoTime();
        for (int spins = 1; ; spins++) {
            long room = room(1);
            if (room > 0) {
                return room;
            }
            if (spins % SPINS_PER_CLOCK == 0) {
                ensureOpen();
                if (peerGone) {
                    throw gone();
                }
                if (pause(start)) {
                    break;
                }
            }
            Thread.onSpinWait();
        }
        try {
            while (true) {
                sleep(OFFSET_WRITER_ASLEEP, writerSleeps += 2);
                long room = room(1);
                if (room > 0) {
                    return room;
                }
                if (peerGone) {
                    throw gone();
                }
                awaitSocket(0);
            }
        } finally {
            LONGS.setRelease(own, OFFSET_WRITER_ASLEEP, writerSleeps);
        }
    }

    private void copyIn(ByteBuffer source, int count) {
        int at = (int) (tail & (outCapacity - 1));
        int first = Math.min(count, outCapacity - at);
        ByteBuffer to = outRing;
        int limit = source.limit();
        to.position(at);
        source.limit(source.position() + first);
        to.put(source);
        if (first < count) {
            to.position(0);
            source.limit(source.position() + count - first);
            to.put(source);
        }
        source.limit(limit);
    }

    private void wakePeerReader() throws IOException {
        VarHandle.fullFence();
        long asleep = (long) LONGS.getVolatile(peer, OFFSET_READER_ASLEEP);
        if ((asleep & 1) != 0 && asleep != wokenPeerReader) {
            wokenPeerReader = asleep;
            ring(true);
        }
    }

    /** Ends this side's output: the peer reads what was written, then an end of stream. */
    void shutdownOutput() throws IOException {
        enter();
        try {
            LONGS.setRelease(own, OFFSET_OUTPUT_ENDED, 1L);
            VarHandle.fullFence();
            if (((long) LONGS.getVolatile(peer, OFFSET_READER_ASLEEP) & 1) != 0) {
                ring(false); // a peer that is gone already needs no telling, as a socket's half-close would not fail
            }
        } finally {
            exit();
        }
    }

    // ---- the socket --------------------------------------------------------------------------------

    /**
     * Sends the peer one wake-up byte, never waiting for room: a full socket buffer already holds wake-ups the peer has
     * not read, so a byte that does not fit is not needed.
     *
     * @param mustReach whether a failure must be reported (a writer's data waits behind it)
     */
    private void ring(boolean mustReach) throws IOException {
        ringing.lock();
        try {
            wakeup.clear();
            wakeup.put((byte) 1).flip();
            if (timed) {
                socket.write(wakeup); // non-blocking already
            } else {
                writeWithoutWaiting();
            }
        } catch (IOException e) {
            peerGone = true;
            if (mustReach) {
                throw gone();
            }
        } finally {
            ringing.unlock();
        }
    }

    /**
     * Writes the wake-up byte on the blocking socket without waiting for room: the socket is non-blocking for that one
     * write. A peer that never reads its socket fills it, and a blocking write there held this side's reader or writer,
     * with the ring's lock, for good (and the server's watchdog, which waited on that lock). A reader blocked in a read
     * meanwhile stays blocked (the mode is read when a call begins); one that begins in that instant reads nothing and
     * looks again. Safe with junixsocket's channels, the only ones that carry shared memory: the JDK's would wait for
     * the blocked reader's lock to change the mode.
     */
    private void writeWithoutWaiting() throws IOException {
        modeChanges++; // odd: the mode may be non-blocking (a plain volatile write: only ringers, under ringing, write
        // it)
        try {
            socket.configureBlocking(false);
            try {
                socket.write(wakeup);
            } finally {
                socket.configureBlocking(true);
            }
        } finally {
            modeChanges++;
        }
    }

    /** Wakes the thread that waits on the socket, if one does; blocking, that takes shutting the socket's input. */
    private void wakeSocketWaiter() {
        if (timed) {
            socketReady.wakeup();
            return;
        }
        socketShut = true;
        try {
            socket.shutdownInput();
        } catch (IOException e) {
            // closed already: nobody waits on it
        }
    }

    /**
     * Waits for anything from the peer (a wake-up, or the end of the socket), for {@code nanos} at most (zero: no
     * limit, though a follower looks again every {@link #CHECK_NANOS}).
     */
    private void awaitSocket(long nanos) throws IOException {
        long wait = nanos <= 0 ? CHECK_NANOS : Math.min(nanos, CHECK_NANOS);
        if (socketShut) {
            // This side shut the socket's input: nothing more comes on it, so a writer waiting for room looks again.
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            ensureOpen();
            return;
        }
        doorbell.lock();
        try {
            ensureOpen();
            if (socketTaken) {
                rang.awaitNanos(wait);
                return;
            }
            socketTaken = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting on " + label);
        } finally {
            doorbell.unlock();
        }
        try {
            if (!timed) {
                wakeups.clear();
                int count;
                long modes = modeChanges;
                try {
                    count = socket.read(wakeups);
                } catch (AsynchronousCloseException e) {
                    throw e;
                } catch (IOException e) {
                    count = -1; // reset by a peer that died
                }
                boolean modeChanged = (modes & 1) != 0 || modeChanges != modes;
                if (count < 0 && !socketShut && !modeChanged) {
                    peerGone = true; // a -1 while the doorbell had the socket non-blocking is nothing: look again
                }
            } else if (drainSocket() == 0) {
                boolean ready = socketReady.await(wait);
                if (drainSocket() == 0 && ready) {
                    peerGone = true; // junixsocket reads 0, not -1, at the end of the stream
                }
            }
            ensureOpen();
        } catch (AsynchronousCloseException e) {
            ensureOpen();
            throw e;
        } finally {
            doorbell.lock();
            try {
                socketTaken = false;
                rang.signalAll();
            } finally {
                doorbell.unlock();
            }
        }
    }

    /** Reads every wake-up waiting on the socket; how many, or -1 (and the peer marked gone) at its end. */
    private int drainSocket() throws IOException {
        int total = 0;
        while (true) {
            wakeups.clear();
            int count;
            try {
                count = socket.read(wakeups);
            } catch (AsynchronousCloseException e) {
                throw e;
            } catch (IOException e) {
                count = -1; // reset by a peer that died
            }
            if (count < 0) {
                peerGone = true;
                return -1;
            }
            if (count == 0) {
                return total;
            }
            total += count;
        }
    }

    private IOException gone() {
        return new SocketException("the peer of " + label + " closed the connection (or its process ended) while"
                + " bytes were waiting to be written into shared memory");
    }

    // ---- life -------------------------------------------------------------------------------------

    private void enter() throws SocketException {
        if (users.incrementAndGet() >= CLOSED) {
            exit();
            throw new SocketException("connection " + label + " is closed");
        }
    }

    private void exit() {
        if (users.decrementAndGet() == CLOSED) {
            unmap();
        }
    }

    private void ensureOpen() throws SocketException {
        if (users.get() >= CLOSED) {
            throw new SocketException("connection " + label + " is closed");
        }
    }

    /**
     * Wakes every waiter and unmaps the memory once no thread is inside a ring operation; the caller closes the socket
     * afterwards.
     */
    void close(Closer closer) {
        long before = users.getAndAdd(CLOSED);
        if (before >= CLOSED) {
            return;
        }
        wakeSocketWaiter();
        closer.close(socketReady);
        doorbell.lock();
        try {
            rang.signalAll();
        } finally {
            doorbell.unlock();
        }
        if (before == 0) {
            unmap();
        }
    }

    private final AtomicBoolean unmapped = new AtomicBoolean();

    private void unmap() {
        if (unmapped.compareAndSet(false, true)) {
            mine.unmap();
            theirs.unmap();
        }
    }
}
