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
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A benchmark's client and its server: the server in a separate process (the real IPC case) or on a thread of this JVM,
 * through the library or on raw channels.
 */
final class BenchPair implements AutoCloseable {

    /**
     * The transports benchmarked: the library's {@code Connection} on each transport; {@code raw-*}, the JDK channel
     * with hand-written framing, no library; {@code call-*}, the library's {@code IpcClient.call} to an
     * {@code IpcServer} (the JDK backend on {@code unix}), and {@code direct-unix} the same with {@code directHandlers}
     * (handlers on the thread that read the request, as gRPC's direct executor); {@code netty-*} and {@code grpc-unix},
     * the peers a user would pick instead; {@code udp} and {@code unixgram}, the library's datagram sockets, beside
     * {@code raw-udp} and {@code raw-unixgram}, the channels by hand ({@link DatagramPeers}); {@code shm}, the
     * library's {@code Connection} with its data in shared memory ({@code sharedMemory=require} on a Unix socket file),
     * and {@code call-shm} the library's {@code IpcClient.call} over it.
     */
    static final String TRANSPORTS =
            "unix-jdk,unix-junixsocket,shm,tcp,raw-unix,raw-tcp,call-unix,call-shm,call-tcp,direct-unix,"
                    + "netty-unix,netty-tcp,grpc-unix,udp,unixgram,raw-udp,raw-unixgram";

    private final Path directory;
    private final Process process;
    private final BenchServer thread;
    final Endpoint endpoint;
    /** What serves: lib, raw, call, netty or grpc; the client speaks the same. */
    final String kind;

    private final boolean echo;
    private final BufferedReader replies; // the server process's standard output, after READY

    private BenchPair(
            Path directory,
            Process process,
            BufferedReader replies,
            BenchServer thread,
            Endpoint endpoint,
            String kind,
            boolean echo) {
        this.directory = directory;
        this.process = process;
        this.replies = replies;
        this.thread = thread;
        this.endpoint = endpoint;
        this.kind = kind;
        this.echo = echo;
    }

    /** The kind of server and client of a transport: lib, raw, call, netty, grpc, dgram or rawdgram. */
    static String kind(String transport) {
        if (DatagramPeers.isDatagram(transport)) {
            return transport.startsWith("raw-") ? "rawdgram" : "dgram";
        }
        int dash = transport.indexOf('-');
        String prefix = dash < 0 ? transport : transport.substring(0, dash);
        switch (prefix) {
            case "raw":
            case "call":
            case "netty":
            case "grpc":
                return prefix;
            case "direct":
                return "call"; // the same client; its server runs handlers directly
            default:
                return "lib";
        }
    }

    /** The kind of server of a transport: its client's kind, but {@code direct} for {@code direct-*}. */
    static String serverKind(String transport) {
        return transport.startsWith("direct-") ? "direct" : kind(transport);
    }

    /**
     * Starts a server.
     *
     * @param transport one of {@link #TRANSPORTS}
     * @param server {@code process} or {@code thread}
     * @param echo whether the server echoes (round trips) or drains (streaming)
     */
    static BenchPair start(String transport, String server, boolean echo) throws Exception {
        return start(transport, server, echo, 64);
    }

    /**
     * Starts a server for messages of at most {@code size} bytes (datagram servers are sized for them).
     *
     * @param transport one of {@link #TRANSPORTS}
     * @param server {@code process} or {@code thread}
     * @param echo whether the server echoes (round trips) or drains (streaming)
     */
    static BenchPair start(String transport, String server, boolean echo, int size) throws Exception {
        Path directory = Files.createTempDirectory("ipcb");
        String kind = kind(transport);
        Endpoint endpoint;
        switch (DatagramPeers.isDatagram(transport) ? "datagram" : transport) {
            case "datagram":
                endpoint = DatagramPeers.endpoint(transport, directory, size);
                break;
            case "unix-jdk":
            case "unix-junixsocket":
                endpoint = Endpoint.unix(directory.resolve("b.sock")).withParameter("backend", transport.substring(5));
                break;
            case "raw-unix":
            case "netty-unix":
            case "grpc-unix":
                endpoint = Endpoint.unix(directory.resolve("b.sock"));
                break;
            case "shm":
            case "call-shm":
                endpoint = Endpoint.unix(directory.resolve("b.sock"))
                        .withParameter("sharedMemory", "require")
                        .withParameter("ringSize", System.getProperty("ipc.bench.ring", "262144"));
                break;
            case "call-unix":
            case "direct-unix":
                endpoint = Endpoint.unix(directory.resolve("b.sock")).withParameter("backend", "jdk");
                break;
            case "tcp":
            case "raw-tcp":
            case "call-tcp":
            case "netty-tcp":
                endpoint = Endpoint.tcp("127.0.0.1", 0);
                break;
            default:
                throw new IllegalArgumentException("unknown transport '" + transport + "' (known: " + TRANSPORTS + ")");
        }
        if (server.equals("thread")) {
            BenchServer started = BenchServer.start(serverKind(transport), echo, endpoint);
            return new BenchPair(directory, null, null, started, started.endpoint(), kind, echo);
        }
        if (!server.equals("process")) {
            throw new IllegalArgumentException("server must be process or thread, was '" + server + "'");
        }
        List<String> command = new ArrayList<>();
        int lastCpu = lastOnlineCpu();
        if (!"0".equals(System.getenv("IPC_BENCH_PIN"))
                && Files.isExecutable(Path.of("/usr/bin/taskset"))
                && lastCpu >= 1) {
            // The server on the last CPU; the runner pins the benchmark's JVM to the first.
            command.addAll(List.of("/usr/bin/taskset", "-c", String.valueOf(lastCpu)));
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (Runtime.version().feature() >= 24) {
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        if (!Tally.FAULT.isEmpty()) {
            command.add("-Dipc.bench.fault=" + Tally.FAULT); // the runner's test: the server loses a message
        }
        command.addAll(List.of(
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                // gRPC's server sets SO_KEEPALIVE on every child channel and warns that a Unix socket has none.
                "-Dorg.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap.ServerBootstrap=error",
                "-cp",
                System.getProperty("java.class.path"),
                BenchServer.class.getName(),
                serverKind(transport),
                echo ? "echo" : "drain",
                endpoint.toString()));
        Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        BufferedReader replies =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String ready = replies.readLine();
        if (ready == null || !ready.startsWith("READY ")) {
            process.destroyForcibly();
            throw new IllegalStateException("the benchmark server did not start: " + ready);
        }
        return new BenchPair(directory, process, replies, null, Endpoint.parse(ready.substring(6)), kind, echo);
    }

    /**
     * The machine's last online CPU, or 0 where that can't be read. Not from {@code availableProcessors()}: in a JVM
     * pinned to the first CPU that counts one, which put the server on the client's CPU.
     */
    static int lastOnlineCpu() {
        try {
            String online =
                    Files.readString(Path.of("/sys/devices/system/cpu/online")).trim();
            String last = online.substring(Math.max(online.lastIndexOf(','), online.lastIndexOf('-')) + 1);
            return Integer.parseInt(last);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Deletes a scratch directory and the files in it (the runner's directories hold no subdirectories). */
    static void deleteDirectory(Path directory) throws IOException {
        try (var files = Files.list(directory)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(file);
            }
        }
        Files.deleteIfExists(directory);
    }

    /** The server's process, where it runs in one of its own. */
    Optional<ProcessHandle> serverProcess() {
        return process == null ? Optional.empty() : Optional.of(process.toHandle());
    }

    /** Whether this pair exchanges datagrams. */
    boolean isDatagram() {
        return kind.equals("dgram") || kind.equals("rawdgram");
    }

    /** What the server counted: the messages that arrived, and the first error it met (null if none). */
    record Count(long received, String error) {}

    /** What the server has counted so far. */
    Count count() throws IOException {
        if (thread != null) {
            return new Count(thread.tally().received(), thread.tally().error());
        }
        process.getOutputStream().write("COUNT\n".getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().flush();
        String line = replies.readLine();
        if (line == null || !line.startsWith("COUNT ")) {
            throw new IOException("the benchmark server did not answer COUNT: " + line);
        }
        int error = line.indexOf(" ERROR ");
        return new Count(
                Long.parseLong(line.substring(6, error < 0 ? line.length() : error)),
                error < 0 ? null : line.substring(error + 7));
    }

    /** Fails when the server met an error. */
    void checkServer() throws IOException {
        String error = count().error();
        if (error != null) {
            throw new IllegalStateException("the server failed: " + error);
        }
    }

    /**
     * What the server counted once {@code expected} messages arrived, or once its count stopped growing (300 ms without
     * a change, 10 s at most): what is still in the kernel's buffers counts; what never comes is a stream's missing
     * messages, or a datagram socket's losses.
     */
    Count awaitCount(long expected) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Count last = count();
        long changed = System.nanoTime();
        while (last.received() < expected
                && System.nanoTime() < deadline
                && System.nanoTime() - changed < TimeUnit.MILLISECONDS.toNanos(300)) {
            TimeUnit.MILLISECONDS.sleep(10);
            Count now = count();
            if (now.received() != last.received()) {
                changed = System.nanoTime();
            }
            last = now;
        }
        return last;
    }

    /** A new client connection to the server, of the server's kind. */
    Exchange connect() throws IOException {
        switch (kind) {
            case "dgram":
            case "rawdgram":
                return DatagramPeers.connect(kind, endpoint);
            case "raw":
                return Exchange.connectRaw(endpoint);
            case "call":
                return Exchange.connectClient(endpoint);
            case "netty":
                return NettyPeer.connect(endpoint);
            case "grpc":
                return GrpcPeer.connect(endpoint, echo);
            default:
                return Exchange.connectLibrary(endpoint);
        }
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
        deleteDirectory(directory);
    }
}
