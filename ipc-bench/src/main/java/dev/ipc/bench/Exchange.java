package dev.ipc.bench;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;

/** One side of a benchmarked exchange: through the library, or on a raw JDK channel with hand-written framing. */
interface Exchange extends AutoCloseable {

    /** Sends one message. */
    void send(byte[] message) throws IOException;

    /**
     * Queues one message to go out at the next {@link #flush()} (or sooner, when the transport's buffer fills): the
     * transport's own write-then-flush where it has one, else a send.
     */
    default void write(byte[] message) throws IOException {
        send(message);
    }

    /** Sends what {@link #write(byte[])} queued. */
    default void flush() throws IOException {}

    /**
     * At the end of a stream, once its senders have stopped: sends everything still held back, and returns how many
     * messages went out, {@code counted} (what the senders counted) where they are the senders.
     */
    default long finish(long counted) throws IOException {
        flush();
        return counted;
    }

    /** Receives one message; null at the end of the stream. */
    byte[] receive() throws IOException;

    @Override
    void close() throws IOException;

    /**
     * One request and its reply; for the clients that multiplex ({@code IpcClient}, gRPC) from any number of threads at
     * once, for the others from one thread at a time.
     */
    default byte[] call(byte[] message) throws IOException {
        send(message);
        return receive();
    }

    /**
     * One request whose reply completes the future, without waiting: {@code IpcClient.callAsync}, gRPC's async stub.
     *
     * @throws UnsupportedOperationException for the clients that have no asynchronous call
     */
    default CompletableFuture<byte[]> callAsync(byte[] message) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no asynchronous call");
    }

    /**
     * Makes round trips before JMH's own warm-up, where one is needed: a deep stack that starts slow (gRPC's takes 1 to
     * 2 ms a call before it is compiled, 50 µs after) makes so few calls in JMH's warm-up that neither its client nor
     * its server, in another process, is ever compiled, so gRPC gets 30,000 round trips or 5 seconds, whichever comes
     * first (on a 2-CPU machine the 5 seconds end it; its figures are those of a gRPC still warming, and the
     * stand-alone program, warmed 10 s, gives its best). The other stacks compile within JMH's warm-up; they get 1,000
     * round trips, which also prove the exchange works.
     */
    static void warm(String transport, Exchange exchange, byte[] message) throws IOException {
        boolean slow = transport.startsWith("grpc");
        long end = System.nanoTime() + (slow ? 10_000_000_000L : 1_000_000_000L);
        for (int i = 0; i < (slow ? 30_000 : 1_000) && System.nanoTime() < end; i++) {
            echoed(exchange.call(message), message);
        }
    }

    /** Checks a reply: the echo of {@code message}, as long as it; returns it. */
    static byte[] echoed(byte[] reply, byte[] message) throws IOException {
        if (reply == null || reply.length != message.length) {
            throw new IOException("a reply of " + (reply == null ? "nothing (end of stream)" : reply.length + " bytes")
                    + " to a message of " + message.length + " bytes");
        }
        return reply;
    }

    /** An {@code IpcClient} to an {@code IpcServer}: {@code send} then {@code receive} is one call. */
    static Exchange connectClient(Endpoint endpoint) throws IOException {
        IpcClient client = IpcClient.connect(endpoint);
        return new Exchange() {
            private byte[] next;

            @Override
            public void send(byte[] message) {
                next = message;
            }

            @Override
            public byte[] receive() throws IOException {
                return client.call(next);
            }

            @Override
            public byte[] call(byte[] message) throws IOException {
                return client.call(message);
            }

            @Override
            public CompletableFuture<byte[]> callAsync(byte[] message) {
                return client.callAsync(message);
            }

            @Override
            public void close() throws IOException {
                client.close();
            }
        };
    }

    /** The library's connection. */
    static Exchange library(Connection connection) {
        return new Exchange() {
            @Override
            public void send(byte[] message) throws IOException {
                connection.send(message);
            }

            @Override
            public void write(byte[] message) throws IOException {
                connection.write(message);
            }

            @Override
            public void flush() throws IOException {
                connection.flush();
            }

            @Override
            public byte[] receive() throws IOException {
                return connection.receive();
            }

            @Override
            public void close() throws IOException {
                connection.close();
            }
        };
    }

    /** Connects through the library. */
    static Exchange connectLibrary(Endpoint endpoint) throws IOException {
        return library(Ipc.connect(endpoint));
    }

    /** Connects a raw JDK channel to a unix: path or tcp:// endpoint. */
    static Exchange connectRaw(Endpoint endpoint) throws IOException {
        SocketChannel channel;
        if (endpoint.isUnix()) {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(endpoint.path().orElseThrow()));
        } else {
            channel = SocketChannel.open(new InetSocketAddress(endpoint.host(), endpoint.port()));
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        return raw(channel);
    }

    /**
     * A blocking channel with the framing written by hand, the way a careful user would without a library: header and
     * payload copied into one direct buffer and written at once (one write per message, under a lock so that threads
     * may share it); reads go through a buffer, so that many small messages cost one read. Its write-then-flush gathers
     * messages in that buffer and writes it when full or flushed.
     */
    static Exchange raw(SocketChannel channel) {
        return new Exchange() {
            private ByteBuffer out = ByteBuffer.allocateDirect(64 * 1024);
            private ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024).limit(0);

            @Override
            public synchronized void send(byte[] message) throws IOException {
                if (out.capacity() < message.length + 4) {
                    out = ByteBuffer.allocateDirect(message.length + 4);
                }
                flush();
                out.putInt(message.length).put(message).flip();
                writeOut();
            }

            @Override
            public synchronized void write(byte[] message) throws IOException {
                if (out.remaining() < message.length + 4) {
                    flush();
                    if (out.capacity() < message.length + 4) {
                        out = ByteBuffer.allocateDirect(message.length + 4);
                    }
                }
                out.putInt(message.length).put(message);
            }

            @Override
            public synchronized void flush() throws IOException {
                out.flip();
                writeOut();
            }

            private void writeOut() throws IOException {
                while (out.hasRemaining()) {
                    channel.write(out);
                }
                out.clear();
            }

            @Override
            public byte[] receive() throws IOException {
                if (!fill(4)) {
                    return null;
                }
                int length = in.getInt();
                byte[] message = new byte[length];
                int done = Math.min(length, in.remaining());
                in.get(message, 0, done);
                if (done < length) {
                    ByteBuffer rest = ByteBuffer.wrap(message, done, length - done);
                    while (rest.hasRemaining()) {
                        if (channel.read(rest) < 0) {
                            throw new EOFException("end of stream inside a frame");
                        }
                    }
                }
                return message;
            }

            /** Reads until {@code count} bytes are buffered; false at a clean end of stream. */
            private boolean fill(int count) throws IOException {
                while (in.remaining() < count) {
                    int had = in.remaining();
                    in.compact();
                    int read = channel.read(in);
                    in.flip();
                    if (read < 0) {
                        if (had == 0) {
                            return false;
                        }
                        throw new EOFException("end of stream inside a frame");
                    }
                }
                return true;
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }
}
