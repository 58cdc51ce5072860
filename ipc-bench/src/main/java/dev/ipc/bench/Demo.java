package dev.ipc.bench;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * A runnable tour: starts a server on a socket file, talks to it, then times small round trips over each transport. Run
 * it with the {@code ./ipc-demo} script at the repository root.
 *
 * <p>Not a benchmark: one process, no JMH, no pinning. It shows the API working end to end and gives a first feel for
 * what each transport costs on this machine.
 */
public final class Demo {

    private static final int WARMUP = 20_000;
    private static final int ROUND_TRIPS = 20_000;

    private Demo() {}

    public static void main(String[] args) throws Exception {
        Path directory = Files.createTempDirectory("ipc-demo");
        try {
            conversation(Endpoint.unix(directory.resolve("demo.sock")));
            System.out.println();
            System.out.printf(
                    Locale.ROOT,
                    "64-byte round trips, %,d after %,d warm-up, client and server threads in one JVM:%n",
                    ROUND_TRIPS,
                    WARMUP);
            System.out.printf(Locale.ROOT, "%-34s %10s %10s %10s%n", "endpoint", "p50 (us)", "p99 (us)", "msg/s");
            time(Endpoint.unix(directory.resolve("jdk.sock")).withParameter("backend", "jdk"));
            time(Endpoint.unix(directory.resolve("jx.sock")).withParameter("backend", "junixsocket"));
            time(Endpoint.parse("tcp://127.0.0.1:0"));
        } finally {
            try (var files = Files.list(directory)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    Files.delete(file);
                }
            }
            Files.delete(directory);
        }
    }

    /** A server that answers in upper case, and a client that asks it three things. */
    private static void conversation(Endpoint endpoint) throws Exception {
        try (Listener listener = Ipc.listen(endpoint)) {
            System.out.println("server listening on " + listener.endpoint());
            Thread server = serve(
                    listener,
                    message ->
                            new String(message, UTF_8).toUpperCase(Locale.ROOT).getBytes(UTF_8));
            try (Connection client = Ipc.connect(listener.endpoint())) {
                for (String question : List.of("hello", "how are you?", "bye")) {
                    client.send(question.getBytes(UTF_8));
                    System.out.println(
                            "client sent '" + question + "', got '" + new String(client.receive(), UTF_8) + "'");
                }
            }
            server.join();
        }
        System.out.println("listener closed; socket file removed: "
                + !Files.exists(endpoint.path().orElseThrow()));
    }

    private static void time(Endpoint endpoint) throws Exception {
        try (Listener listener = Ipc.listen(endpoint)) {
            Thread server = serve(listener, message -> message);
            long[] nanos = new long[ROUND_TRIPS];
            byte[] payload = new byte[64];
            long started;
            long elapsed;
            try (Connection client = Ipc.connect(listener.endpoint())) {
                for (int i = 0; i < WARMUP; i++) {
                    client.send(payload);
                    client.receive();
                }
                started = System.nanoTime();
                for (int i = 0; i < ROUND_TRIPS; i++) {
                    long t = System.nanoTime();
                    client.send(payload);
                    client.receive();
                    nanos[i] = System.nanoTime() - t;
                }
                elapsed = System.nanoTime() - started;
            }
            server.join();
            Arrays.sort(nanos);
            System.out.printf(
                    Locale.ROOT,
                    "%-34s %10.1f %10.1f %,10d%n",
                    endpoint.withoutParameters().scheme() + " via "
                            + Ipc.transportFor(
                                            endpoint,
                                            ConnectionOptions.defaults().toBuilder()
                                                    .query(endpoint)
                                                    .build())
                                    .id(),
                    nanos[ROUND_TRIPS / 2] / 1000.0,
                    nanos[ROUND_TRIPS * 99 / 100] / 1000.0,
                    ROUND_TRIPS * 1_000_000_000L / elapsed);
        }
    }

    /** Serves one connection on a thread of its own: each message in, the handler's answer out. */
    private static Thread serve(Listener listener, UnaryOperator<byte[]> handler) {
        List<Throwable> failures = new ArrayList<>();
        Thread thread = new Thread(
                () -> {
                    try (Connection connection = listener.accept()) {
                        for (byte[] message = connection.receive(); message != null; message = connection.receive()) {
                            connection.send(handler.apply(message));
                        }
                    } catch (IOException e) {
                        failures.add(e);
                        System.err.println("server failed: " + e);
                    }
                },
                "ipc-demo-server");
        thread.start();
        return thread;
    }
}
