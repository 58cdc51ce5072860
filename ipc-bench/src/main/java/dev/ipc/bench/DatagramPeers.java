package dev.ipc.bench;

import dev.ipc.Datagram;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The datagram cases: the library's {@link DatagramSocket} ({@code udp}, {@code unixgram}) and the raw channels a user
 * would write by hand ({@code raw-udp}: the JDK's {@link DatagramChannel}; {@code raw-unixgram}: junixsocket's, since
 * the JDK has none for Unix datagrams). Each datagram is one message: no framing.
 */
final class DatagramPeers {

    /** The most the kernel lets a Unix datagram be over its send buffer; see the library's JunixsocketDatagrams. */
    private static final int UNIX_OVERHEAD = 32;

    private DatagramPeers() {}

    /** Whether a transport is a datagram case. */
    static boolean isDatagram(String transport) {
        return transport.endsWith("udp") || transport.endsWith("unixgram");
    }

    /** The largest message a transport carries, so that the runner skips sizes it cannot. */
    static int maxSize(String transport) {
        return transport.endsWith("udp") ? 65_507 : 4 * 1024 * 1024;
    }

    /** Where a datagram server binds; its query carries the size limit, which raw servers read too. */
    static Endpoint endpoint(String transport, Path directory, int size) {
        Endpoint endpoint = transport.endsWith("udp")
                ? Endpoint.udp("127.0.0.1", 0)
                : Endpoint.unixgram(directory.resolve("b.sock"));
        return endpoint.withParameter("maxDatagramSize", String.valueOf(Math.max(size, 65_507)));
    }

    private static int limit(Endpoint endpoint) {
        return Integer.parseInt(endpoint.parameter("maxDatagramSize").orElse("65507"));
    }

    /**
     * A client of the server at {@code endpoint}: the library's ({@code dgram}) or a raw channel ({@code rawdgram}).
     */
    static Exchange connect(String kind, Endpoint endpoint) throws IOException {
        if (kind.equals("dgram")) {
            DatagramSocket socket = Ipc.connectDatagram(endpoint, DatagramOptions.defaults());
            return new Exchange() {
                @Override
                public void send(byte[] message) throws IOException {
                    socket.send(message);
                }

                @Override
                public byte[] receive() throws IOException {
                    return socket.receive().payload();
                }

                @Override
                public void close() throws IOException {
                    socket.close();
                }
            };
        }
        DatagramChannel channel = open(endpoint, limit(endpoint));
        if (endpoint.isUnix()) {
            channel.bind(AFUNIXSocketAddress.inAbstractNamespace(
                    "ipc-bench-" + Long.toHexString(ThreadLocalRandom.current().nextLong())));
        }
        channel.connect(address(endpoint));
        return raw(channel, limit(endpoint));
    }

    private static DatagramChannel open(Endpoint endpoint, int limit) throws IOException {
        DatagramChannel channel =
                endpoint.isUnix() ? AFUNIXDatagramChannel.open() : DatagramChannel.open(StandardProtocolFamily.INET);
        if (endpoint.isUnix() && channel.getOption(StandardSocketOptions.SO_SNDBUF) < limit + UNIX_OVERHEAD) {
            channel.setOption(StandardSocketOptions.SO_SNDBUF, limit + UNIX_OVERHEAD);
        }
        return channel;
    }

    private static SocketAddress address(Endpoint endpoint) throws IOException {
        return endpoint.isUnix()
                ? AFUNIXSocketAddress.of(endpoint.path().orElseThrow())
                : new InetSocketAddress(endpoint.host(), endpoint.port());
    }

    /** A connected channel, as a careful user would drive it: blocking, one direct buffer each way. */
    private static Exchange raw(DatagramChannel channel, int limit) {
        return new Exchange() {
            private final ByteBuffer out = ByteBuffer.allocateDirect(limit);
            private final ByteBuffer in = ByteBuffer.allocateDirect(limit + 1);

            @Override
            public synchronized void send(byte[] message) throws IOException {
                out.clear();
                out.put(message).flip();
                channel.write(out);
            }

            @Override
            public byte[] receive() throws IOException {
                in.clear();
                channel.read(in);
                byte[] message = new byte[in.flip().remaining()];
                in.get(message);
                return message;
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }

    /**
     * Serves on a thread: echoes each datagram to its sender, or drains and counts them.
     *
     * @param kind {@code dgram} (the library) or {@code rawdgram}
     */
    static BenchServer.Serving serve(String kind, Endpoint endpoint, boolean echo, Tally tally) throws IOException {
        int limit = limit(endpoint);
        if (kind.equals("dgram")) {
            DatagramSocket socket = Ipc.bindDatagram(endpoint);
            daemon(() -> {
                while (socket.isOpen()) {
                    Datagram datagram = socket.receive();
                    tally.arrived();
                    if (echo) {
                        socket.send(datagram.sender().orElseThrow(), datagram.payload());
                    }
                }
                return null;
            });
            return new BenchServer.Serving(socket.localEndpoint(), socket::close, tally);
        }
        if (endpoint.isUnix()) {
            Files.deleteIfExists(endpoint.path().orElseThrow());
        }
        DatagramChannel channel = open(endpoint, limit);
        channel.bind(endpoint.isUnix() ? address(endpoint) : new InetSocketAddress("127.0.0.1", endpoint.port()));
        Endpoint bound = endpoint.isUnix()
                ? endpoint
                : endpoint.withPort(((InetSocketAddress) channel.getLocalAddress()).getPort());
        daemon(() -> {
            ByteBuffer in = ByteBuffer.allocateDirect(limit + 1);
            SocketAddress lastFrom = null;
            SocketAddress replyTo = null;
            while (channel.isOpen()) {
                in.clear();
                SocketAddress from = channel.receive(in);
                if (from == null && in.position() == 0) {
                    continue;
                }
                tally.arrived();
                if (echo) {
                    if (!from.equals(lastFrom)) {
                        lastFrom = from;
                        replyTo = replyAddress(from);
                    }
                    channel.send(in.flip(), replyTo);
                }
            }
            return null;
        });
        return new BenchServer.Serving(
                bound,
                () -> {
                    channel.close();
                    if (endpoint.isUnix()) {
                        Files.deleteIfExists(endpoint.path().orElseThrow());
                    }
                },
                tally);
    }

    /**
     * Where to reply: junixsocket reports a sender in the abstract namespace with the whole address buffer, NUL padding
     * and all, which names another socket; the name is what comes before the padding.
     */
    private static SocketAddress replyAddress(SocketAddress from) throws IOException {
        if (!(from instanceof AFUNIXSocketAddress) || !((AFUNIXSocketAddress) from).isInAbstractNamespace()) {
            return from;
        }
        byte[] bytes = ((AFUNIXSocketAddress) from).getPathAsBytes();
        int end = bytes.length;
        while (end > 1 && bytes[end - 1] == 0) {
            end--;
        }
        return AFUNIXSocketAddress.inAbstractNamespace(new String(bytes, 1, end - 1, StandardCharsets.UTF_8));
    }

    private static void daemon(BenchServer.Body body) {
        Thread thread = new Thread(
                () -> {
                    try {
                        body.run();
                    } catch (Exception e) {
                        // closed: the server's work is over
                    }
                },
                "ipc-bench-datagrams");
        thread.setDaemon(true);
        thread.start();
    }
}
