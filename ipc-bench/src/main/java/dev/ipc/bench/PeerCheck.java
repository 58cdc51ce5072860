package dev.ipc.bench;

import dev.ipc.bench.alone.GrpcAlone;
import dev.ipc.bench.alone.NettyAlone;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The peers' cross-check: the stand-alone programs ({@link NettyAlone}, {@link GrpcAlone}: each peer as its own
 * examples and guides use it, no code shared with the benchmark), run pinned as the benchmark runs, beside the
 * benchmark's rows for that peer.
 */
final class PeerCheck {

    private PeerCheck() {}

    /** Each check: the program, its mode, and the benchmark's case it checks (benchmark, transport, callers). */
    private static final Object[][] CHECKS = {
        {NettyAlone.class, "roundtrip", "roundtrip", "netty-unix", 0},
        {NettyAlone.class, "stream", "streaming", "netty-unix", 0},
        {NettyAlone.class, "bursts", "bursts", "netty-unix", 0},
        {GrpcAlone.class, "roundtrip", "roundtrip", "grpc-unix", 0},
        {GrpcAlone.class, "async16", "async", "grpc-unix", 16},
        {GrpcAlone.class, "stream", "streaming", "grpc-unix", 0},
    };

    static String table(List<Runner.Measured> measured) throws Exception {
        StringBuilder out = new StringBuilder("### The peers on their own: the benchmark's figures beside each peer's "
                + "own way (64 B)\n\n| case | the benchmark | stand-alone | benchmark / stand-alone |\n"
                + "|---|---:|---:|---:|\n");
        for (Object[] check : CHECKS) {
            Class<?> program = (Class<?>) check[0];
            String mode = (String) check[1];
            String line = run(program, mode);
            Runner.Measured ours = measured.stream()
                    .filter(m -> m.benchmark.equals(check[2])
                            && m.transport.equals(check[3])
                            && m.size == 64
                            && m.callers == (Integer) check[4]
                            && m.failure == null)
                    .findFirst()
                    .orElse(null);
            String[] f = line.split(" ");
            boolean roundTrip = mode.equals("roundtrip");
            boolean figure = f.length >= 4 && f[3].matches("[0-9.]+");
            String alone = !figure
                    ? "failed: " + line
                    : roundTrip ? f[3] + " µs p50" : String.format(Locale.ROOT, "%,.0f/s", Double.parseDouble(f[3]));
            String benchmark = ours == null
                    ? "not in this run"
                    : roundTrip
                            ? String.format(Locale.ROOT, "%.1f µs p50", ours.p50)
                            : String.format(Locale.ROOT, "%,.0f/s", ours.perSecond);
            String ratio = ours == null || !figure
                    ? "–"
                    : String.format(
                            Locale.ROOT,
                            "%.2fx",
                            roundTrip
                                    ? ours.p50 / Double.parseDouble(f[3])
                                    : ours.perSecond / Double.parseDouble(f[3]));
            out.append(String.format(
                    Locale.ROOT, "| %s, %s %s | %s | %s | %s |%n", check[3], check[2], mode, benchmark, alone, ratio));
        }
        return out.append("\nThe stand-alone programs (dev.ipc.bench.alone) share no code with the benchmark and run "
                        + "pinned as it does. Netty's stand-alone round trip runs in the event loop (the next message "
                        + "written when the echo arrives); the benchmark's waits on the caller's thread, as a blocking "
                        + "client does, so it pays a hand-off each way. Rates: a ratio below 1.00x means the benchmark "
                        + "measured the peer slower than it runs on its own; round trips: above 1.00x.\n\n")
                .toString();
    }

    /** Runs the stand-alone program once: its server pinned to the last CPU, its client to the first. */
    private static String run(Class<?> program, String mode) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = System.getProperty("java.class.path");
        Path directory = Files.createTempDirectory("ipcp");
        Path socket = directory.resolve("n.sock");
        List<String> command = new ArrayList<>();
        boolean pin = !"0".equals(System.getenv("IPC_BENCH_PIN")) && Files.isExecutable(Path.of("/usr/bin/taskset"));
        int last = BenchPair.lastOnlineCpu();
        if (pin) {
            command.addAll(List.of("/usr/bin/taskset", "-c", "0"));
        }
        command.addAll(List.of(java, "-cp", classPath, program.getName(), "client", mode, "64", socket.toString()));
        if (pin) {
            command.addAll(List.of("/usr/bin/taskset", "-c", String.valueOf(last)));
        }
        command.addAll(List.of(
                java,
                "-cp",
                classPath,
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
                program.getName(),
                "server",
                mode.equals("roundtrip") ? "echo" : "sink",
                socket.toString()));
        try {
            Process process =
                    new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return "did not finish";
            }
            String[] lines = output.strip().split("\n");
            return lines[lines.length - 1];
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(directory);
        }
    }
}
