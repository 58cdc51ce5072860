package dev.ipc.bench;

import dev.ipc.Endpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A benchmark's client and its server: the server in a separate process (the real IPC case) or on a thread of this JVM,
 * through the library or on raw channels.
 */
final class BenchPair implements AutoCloseable {

    /** The transports benchmarked; {@code raw-*} is the JDK channel with hand-written framing, no library. */
    static final String TRANSPORTS = "unix-jdk,unix-junixsocket,tcp,raw-unix,raw-tcp";

    private final Path directory;
    private final Process process;
    private final BenchServer thread;
    final Endpoint endpoint;
    final boolean raw;

    private BenchPair(Path directory, Process process, BenchServer thread, Endpoint endpoint, boolean raw) {
        this.directory = directory;
        this.process = process;
        this.thread = thread;
        this.endpoint = endpoint;
        this.raw = raw;
    }

    /**
     * Starts a server.
     *
     * @param transport one of {@link #TRANSPORTS}
     * @param server {@code process} or {@code thread}
     * @param echo whether the server echoes (round trips) or drains (streaming)
     */
    static BenchPair start(String transport, String server, boolean echo) throws Exception {
        Path directory = Files.createTempDirectory("ipcb");
        boolean raw = transport.startsWith("raw-");
        Endpoint endpoint;
        switch (transport) {
            case "unix-jdk":
            case "unix-junixsocket":
                endpoint = Endpoint.unix(directory.resolve("b.sock")).withParameter("backend", transport.substring(5));
                break;
            case "raw-unix":
                endpoint = Endpoint.unix(directory.resolve("b.sock"));
                break;
            case "tcp":
            case "raw-tcp":
                endpoint = Endpoint.tcp("127.0.0.1", 0);
                break;
            default:
                throw new IllegalArgumentException("unknown transport '" + transport + "' (known: " + TRANSPORTS + ")");
        }
        if (server.equals("thread")) {
            BenchServer started = BenchServer.start(raw, echo, endpoint);
            return new BenchPair(directory, null, started, started.endpoint(), raw);
        }
        if (!server.equals("process")) {
            throw new IllegalArgumentException("server must be process or thread, was '" + server + "'");
        }
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/taskset"))
                && Runtime.getRuntime().availableProcessors() >= 2) {
            // The server on the last CPU; the runner pins the benchmark's JVM to the first.
            command.addAll(List.of(
                    "/usr/bin/taskset",
                    "-c",
                    String.valueOf(Runtime.getRuntime().availableProcessors() - 1)));
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (Runtime.version().feature() >= 24) {
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        command.addAll(List.of(
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                System.getProperty("java.class.path"),
                BenchServer.class.getName(),
                raw ? "raw" : "lib",
                echo ? "echo" : "drain",
                endpoint.toString()));
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String ready =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)).readLine();
        if (ready == null || !ready.startsWith("READY ")) {
            process.destroyForcibly();
            throw new IllegalStateException("the benchmark server did not start: " + ready);
        }
        return new BenchPair(directory, process, null, Endpoint.parse(ready.substring(6)), raw);
    }

    /** A new client connection to the server. */
    Exchange connect() throws IOException {
        return raw ? Exchange.connectRaw(endpoint) : Exchange.connectLibrary(endpoint);
    }

    @Override
    public void close() throws Exception {
        if (thread != null) {
            thread.close();
        }
        if (process != null) {
            process.getOutputStream().close(); // the server stops when its standard input closes
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        try (var files = Files.list(directory)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(file);
            }
        }
        Files.deleteIfExists(directory);
    }
}
