package dev.ipc;

import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import java.io.IOException;
import java.net.SocketException;
import java.nio.ByteBuffer;

/**
 * One end of an in-memory pair of connections: the same framing, locks, budget and limits as a socket's, over two
 * bounded byte pipes in this JVM, so that a server session and a client session can be driven without a socket (as
 * Okio's tests "just use a Buffer"). Writes wait while the peer's pipe is full, as a socket's do once its buffer is.
 */
final class MemoryConnection extends FramedConnection {

    /** Bytes a pipe holds before a write waits: a socket buffer's order of size. */
    static final int PIPE_BYTES = 256 * 1024;

    private final Pipe in;
    private final Pipe out;
    private final PeerCredentials peer;

    private MemoryConnection(String label, Pipe in, Pipe out, PeerCredentials peer, int maxFrameSize) {
        super(label, false, maxFrameSize);
        this.in = in;
        this.out = out;
        this.peer = peer;
    }

    /** A connected pair: {@code [0]} the client's end, {@code [1]} the server's, which sees {@code peer}. */
    static MemoryConnection[] pair(PeerCredentials peer, int maxFrameSize) {
        Pipe up = new Pipe();
        Pipe down = new Pipe();
        return new MemoryConnection[] {
            new MemoryConnection("memory client", down, up, PeerCredentials.unknown(), maxFrameSize),
            new MemoryConnection("memory server", up, down, peer, maxFrameSize)
        };
    }

    @Override
    protected int readInto(ByteBuffer destination) throws IOException {
        return in.read(destination);
    }

    @Override
    protected void writeFully(ByteBuffer[] sources) throws IOException {
        for (ByteBuffer source : sources) {
            out.write(source);
        }
    }

    @Override
    protected void closeOutput() {
        out.end();
    }

    @Override
    protected void release(Closer closer) {
        in.abandon();
        out.end();
    }

    @Override
    public void shutdownInput() {
        in.abandon();
    }

    @Override
    public PeerCredentials peer() {
        return peer;
    }

    @Override
    public Endpoint localEndpoint() {
        return Endpoint.parse("unix:/in-memory.sock");
    }

    /** A bounded byte pipe: one writer end, one reader end. */
    private static final class Pipe {
        private final ByteBuffer bytes = ByteBuffer.allocate(PIPE_BYTES); // in write mode
        private boolean ended; // the writer is done: the reader gets -1 once it has read the rest
        private boolean abandoned; // the reader is gone: reads give -1, writes are dropped

        synchronized int read(ByteBuffer destination) throws IOException {
            while (bytes.position() == 0 && !ended && !abandoned) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SocketException("interrupted");
                }
            }
            if (abandoned || bytes.position() == 0) {
                return -1;
            }
            bytes.flip();
            int count = Math.min(bytes.remaining(), destination.remaining());
            ByteBuffer slice = bytes.slice();
            slice.limit(count);
            destination.put(slice);
            bytes.position(bytes.position() + count);
            bytes.compact();
            notifyAll();
            return count;
        }

        synchronized void write(ByteBuffer source) throws IOException {
            while (source.hasRemaining()) {
                if (ended) {
                    throw new SocketException("the connection's output is closed");
                }
                if (abandoned) {
                    source.position(source.limit()); // nobody reads: dropped, as a shut input drops
                    return;
                }
                if (!bytes.hasRemaining()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new SocketException("interrupted");
                    }
                    continue;
                }
                int count = Math.min(bytes.remaining(), source.remaining());
                ByteBuffer slice = source.slice();
                slice.limit(count);
                bytes.put(slice);
                source.position(source.position() + count);
                notifyAll();
            }
        }

        synchronized void end() {
            ended = true;
            notifyAll();
        }

        synchronized void abandon() {
            abandoned = true;
            notifyAll();
        }
    }
}
