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
     * A blocking channel with the framing written by hand, the way a careful user would without a
     * library: header and payload copied into one direct buffer and written at once; the header read,
     * then the payload.
     */
    static Exchange raw(SocketChannel channel) {
        return new Exchange() {
            private ByteBuffer out = ByteBuffer.allocateDirect(64 * 1024);
            private ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
            private final ByteBuffer header = ByteBuffer.allocateDirect(4);

            @Override
            public void send(byte[] message) throws IOException {
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
                header.clear();
                if (!readFully(header)) {
                    return null;
                }
                int length = header.getInt(0);
                if (in.capacity() < length) {
                    in = ByteBuffer.allocateDirect(length);
                }
                in.clear().limit(length);
                if (!readFully(in)) {
                    throw new EOFException("end of stream inside a frame");
                }
                byte[] message = new byte[length];
                in.flip().get(message);
                return message;
            }

            private boolean readFully(ByteBuffer buffer) throws IOException {
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) {
                        return false;
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
