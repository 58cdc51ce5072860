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

    /** A server that is up: where it listens, how it stops, and what it counted. */
    record Serving(Endpoint endpoint, Stop stop, Tally tally) {}

    /** Stops a server. */
    @FunctionalInterface
    interface Stop {
        void stop() throws Exception;
    }

    private final AutoCloseable listener;
    private final Endpoint endpoint;
    private final Thread acceptor; // null for a server with threads of its own
    private final Tally tally;

    private BenchServer(AutoCloseable listener, Endpoint endpoint, Thread acceptor, Tally tally) {
        this.listener = listener;
        this.endpoint = endpoint;
        this.acceptor = acceptor;
        this.tally = tally;
    }

    private static BenchServer of(Serving serving) {
        return new BenchServer(serving.stop()::stop, serving.endpoint(), null, serving.tally());
    }

    /** A publisher of nothing, ever: the stream of a watch on something that does not change. */
    private static final Flow.Publisher<byte[]> SILENT = subscriber -> subscriber.onSubscribe(new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {}
    });

    /** Whether a request is one of OpenStreamsBenchmark's watches ("watch ..."); anything else is echoed. */
    private static boolean isWatch(byte[] payload) {
        return payload.length > 6 && payload[0] == 'w' && payload[1] == 'a' && payload[5] == ' ';
    }

    /** Starts serving on {@code endpoint} (port 0 for TCP) in this JVM. */
    static BenchServer start(String kind, boolean echo, Endpoint endpoint) throws IOException {
        Tally tally = new Tally();
        switch (kind) {
            case "netty":
                return of(NettyPeer.serve(endpoint, echo, tally));
            case "grpc":
                return of(GrpcPeer.serve(endpoint, tally));
            case "dgram":
            case "rawdgram":
                return of(DatagramPeers.serve(kind, endpoint, echo, tally));
            case "call":
            case "direct":
                IpcServer server = IpcServer.builder(endpoint)
                        .options(ServerOptions.builder()
                                .set(ServerOptions.DIRECT_HANDLERS, kind.equals("direct"))
                                // Room for OpenStreamsBenchmark's thousand streams over ten connections.
                                .set(ServerOptions.MAX_STREAMS_PER_CONNECTION, 200)
                                .set(ServerOptions.MAX_STREAMS_PER_PEER, 2000)
                                .build())
                        .asyncRequestHandler(request -> {
                            if (request.acceptsStream() && isWatch(request.payload())) {
                                return request.stream(SILENT); // a watch that nothing changes: open until cancelled
                            }
                            tally.arrived();
                            return CompletableFuture.completedFuture(request.payload());
                        })
                        .build()
                        .start();
                return new BenchServer(server, server.endpoint(), null, tally);
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
            Thread acceptor = thread(null, () -> {
                while (server.isOpen()) {
                    SocketChannel channel = server.accept();
                    if (channel.getLocalAddress() instanceof InetSocketAddress) {
                        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    }
                    thread(tally, () -> serve(Exchange.raw(channel), echo, tally));
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
                    acceptor,
                    tally);
        }
        Listener listener = Ipc.listen(endpoint);
        Thread acceptor = thread(null, () -> {
            while (listener.isOpen()) {
                Connection connection = listener.accept();
                thread(tally, () -> serve(Exchange.library(connection), echo, tally));
            }
            return null;
        });
        return new BenchServer(listener, listener.endpoint(), acceptor, tally);
    }

    private static Void serve(Exchange exchange, boolean echo, Tally tally) throws IOException {
        try (exchange) {
            for (byte[] message = exchange.receive(); message != null; message = exchange.receive()) {
                tally.arrived();
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

    /**
     * Runs {@code body} on a daemon thread; an exception it ends with is the tally's error where one is given (a
     * connection's peer closes cleanly, so anything else is a failure), else the end of an accept loop whose listener
     * closed.
     */
    private static Thread thread(Tally tally, Body body) {
        Thread thread = new Thread(
                () -> {
                    try {
                        body.run();
                    } catch (Exception e) {
                        if (tally != null) {
                            tally.failed(e);
                        }
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

    /** What the server counted. */
    Tally tally() {
        return tally;
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
     * {@link Tally#report()}.
     */
    public static void main(String[] args) throws Exception {
        try (BenchServer server = start(args[0], args[1].equals("echo"), Endpoint.parse(args[2]))) {
            System.out.println("READY " + server.endpoint());
            System.out.flush();
            BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = commands.readLine(); line != null; line = commands.readLine()) {
                if (line.equals("COUNT")) {
                    System.out.println(server.tally().report());
                    System.out.flush();
                }
            }
        }
    }
}
