package dev.ipc.bench;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcServer;
import dev.ipc.Listener;
import dev.ipc.ServerOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The server side of the benchmarks, in this JVM (a thread) or in its own (run as a main class): echoes every message,
 * or drains them, on every connection, through the library's {@code Connection} ({@code lib}), a raw channel
 * ({@code raw}), the library's {@code IpcServer} ({@code call}, and {@code direct} with handlers on the reading thread:
 * echo only), Netty ({@code netty}) or gRPC ({@code grpc}).
 *
 * <p>As a process: {@code BenchServer lib|raw|call|direct|netty|grpc|dgram|rawdgram echo|drain ENDPOINT}; prints
 * {@code READY <endpoint>} and serves until its standard input closes.
 */
final class BenchServer implements AutoCloseable {

    /** A server that is up: where it listens, how it stops, and how many datagrams it took (-1: not a count). */
    record Serving(Endpoint endpoint, Stop stop, LongSupplier received) {
        Serving(Endpoint endpoint, Stop stop) {
            this(endpoint, stop, () -> -1);
        }
    }

    /** Stops a server. */
    @FunctionalInterface
    interface Stop {
        void stop() throws Exception;
    }

    private final AutoCloseable listener;
    private final Endpoint endpoint;
    private final Thread acceptor; // null for a server with threads of its own
    private final LongSupplier received;

    private BenchServer(AutoCloseable listener, Endpoint endpoint, Thread acceptor) {
        this(listener, endpoint, acceptor, () -> -1);
    }

    private BenchServer(AutoCloseable listener, Endpoint endpoint, Thread acceptor, LongSupplier received) {
        this.listener = listener;
        this.endpoint = endpoint;
        this.acceptor = acceptor;
        this.received = received;
    }

    private static BenchServer of(Serving serving) {
        return new BenchServer(serving.stop()::stop, serving.endpoint(), null, serving.received());
    }

    /** A publisher of nothing, ever: the stream of a watch on something that does not change. */
    private static final Flow.Publisher<byte[]> SILENT = subscriber -> subscriber.onSubscribe(new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {}
    });

    /** Starts serving on {@code endpoint} (port 0 for TCP) in this JVM. */
    static BenchServer start(String kind, boolean echo, Endpoint endpoint) throws IOException {
        switch (kind) {
            case "netty":
                return of(NettyPeer.serve(endpoint, echo));
            case "grpc":
                return of(GrpcPeer.serve(endpoint));
            case "dgram":
            case "rawdgram":
                return of(DatagramPeers.serve(kind, endpoint, echo, new AtomicLong()));
            case "call":
            case "direct":
                IpcServer server = IpcServer.builder(endpoint)
                        .options(ServerOptions.builder()
                                .set(ServerOptions.DIRECT_HANDLERS, kind.equals("direct"))
                                // Room for OpenStreamsBenchmark's thousand streams over ten connections.
                                .set(ServerOptions.MAX_STREAMS_PER_CONNECTION, 200)
                                .set(ServerOptions.MAX_STREAMS_PER_PEER, 2000)
                                .build())
                        .asyncRequestHandler(request -> request.acceptsStream()
                                ? request.stream(SILENT) // a watch that nothing changes: open until cancelled
                                : CompletableFuture.completedFuture(request.payload()))
                        .build()
                        .start();
                return new BenchServer(server, server.endpoint(), null);
            case "raw":
            case "lib":
                break;
            default:
                throw new IllegalArgumentException("unknown server kind '" + kind + "'");
        }
        if (kind.equals("raw")) {
            ServerSocketChannel server;
            Endpoint bound;
            if (endpoint.isUnix()) {
                Path path = endpoint.path().orElseThrow();
                Files.deleteIfExists(path);
                server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                server.bind(UnixDomainSocketAddress.of(path));
                bound = endpoint;
            } else {
                server = ServerSocketChannel.open();
                server.bind(new InetSocketAddress(endpoint.host(), endpoint.port()));
                bound = endpoint.withPort(((InetSocketAddress) server.getLocalAddress()).getPort());
            }
            Thread acceptor = thread(() -> {
                while (server.isOpen()) {
                    SocketChannel channel = server.accept();
                    if (channel.getLocalAddress() instanceof InetSocketAddress) {
                        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    }
                    thread(() -> serve(Exchange.raw(channel), echo));
                }
                return null;
            });
            return new BenchServer(
                    () -> {
                        server.close();
                        if (endpoint.isUnix()) {
                            Files.deleteIfExists(endpoint.path().orElseThrow());
                        }
                    },
                    bound,
                    acceptor);
        }
        Listener listener = Ipc.listen(endpoint);
        Thread acceptor = thread(() -> {
            while (listener.isOpen()) {
                Connection connection = listener.accept();
                thread(() -> serve(Exchange.library(connection), echo));
            }
            return null;
        });
        return new BenchServer(listener, listener.endpoint(), acceptor);
    }

    private static Void serve(Exchange exchange, boolean echo) throws IOException {
        try (exchange) {
            for (byte[] message = exchange.receive(); message != null; message = exchange.receive()) {
                if (echo) {
                    exchange.send(message);
                }
            }
        }
        return null;
    }

    /** What a server thread runs. */
    interface Body {
        Void run() throws Exception;
    }

    private static Thread thread(Body body) {
        Thread thread = new Thread(
                () -> {
                    try {
                        body.run();
                    } catch (Exception e) {
                        // The peer or the listener closed: this thread's work is over.
                    }
                },
                "ipc-bench-server");
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    /** Where clients connect. */
    Endpoint endpoint() {
        return endpoint;
    }

    /** How many datagrams a datagram server took, once they stopped coming; -1 for the other servers. */
    long received() {
        return received.getAsLong();
    }

    @Override
    public void close() throws Exception {
        listener.close();
        if (acceptor != null) {
            acceptor.join(5000);
        }
    }

    /**
     * Runs the server as a process until standard input closes; a line {@code COUNT} there is answered with
     * {@code COUNT <datagrams received>}.
     */
    public static void main(String[] args) throws Exception {
        try (BenchServer server = start(args[0], args[1].equals("echo"), Endpoint.parse(args[2]))) {
            System.out.println("READY " + server.endpoint());
            System.out.flush();
            BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = commands.readLine(); line != null; line = commands.readLine()) {
                if (line.equals("COUNT")) {
                    System.out.println("COUNT " + server.received());
                    System.out.flush();
                }
            }
        }
    }
}
