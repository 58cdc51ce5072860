package dev.ipc.bench;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/** One side of a benchmarked exchange: through the library, or on a raw JDK channel with hand-written framing. */
interface Exchange extends AutoCloseable {

    /** Sends one message. */
    void send(byte[] message) throws IOException;

    /** Receives one message; null at the end of the stream. */
    byte[] receive() throws IOException;

    @Override
    void close() throws IOException;

    /** The library's connection. */
    static Exchange library(Connection connection) {
        return new Exchange() {
            @Override
            public void send(byte[] message) throws IOException {
                connection.send(message);
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
     * may share it); reads go through a buffer, so that many small messages cost one read.
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
                out.clear();
                out.putInt(message.length).put(message).flip();
                while (out.hasRemaining()) {
                    channel.write(out);
                }
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
