package dev.ipc.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the run's figures are measured against: the machine (CPU model and count, kernel, JDK), the rate of a memory
 * copy (no case may move bytes faster), and the kernel's floor, measured by a C program ({@code ipc-bench/src/main/c/
 * floor.c}) built at the start of the run where a C compiler is present.
 */
final class Machine {

    private final String description;
    private final double copyBytesPerSecond;
    /** "family placement roundtrip|oneway size" to {p50, p99} or {messages per second}. */
    private final Map<String, double[]> floor;

    private final String floorNote;

    private Machine(String description, double copyBytesPerSecond, Map<String, double[]> floor, String floorNote) {
        this.description = description;
        this.copyBytesPerSecond = copyBytesPerSecond;
        this.floor = floor;
        this.floorNote = floorNote;
    }

    /** The repository's root: where the launcher says, else the working directory. */
    static Path root() {
        return Path.of(System.getProperty("ipc.root", ".")).toAbsolutePath().normalize();
    }

    static Machine measure(Path folder) throws IOException, InterruptedException {
        String cpu = "unknown CPU";
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (Files.isReadable(cpuinfo)) {
            for (String line : Files.readAllLines(cpuinfo)) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).strip();
                    break;
                }
            }
        }
        String description = String.format(
                Locale.ROOT,
                "%s, %d CPUs, %s %s, JDK %s",
                cpu,
                BenchPair.lastOnlineCpu() + 1,
                System.getProperty("os.name"),
                System.getProperty("os.version"),
                Runtime.version());
        Map<String, double[]> floor = new HashMap<>();
        String note = floor(folder, floor);
        return new Machine(description, copyRate(), floor, note);
    }

    /**
     * The best rate of one thread copying 1 MiB (cache-resident, so the fastest a core copies: every byte a stream
     * delivers is copied at least once by one core), in bytes per second, over 300 copies.
     */
    private static double copyRate() {
        byte[] from = new byte[1 << 20];
        byte[] to = new byte[1 << 20];
        double best = 0;
        for (int i = 0; i < 300; i++) {
            long start = System.nanoTime();
            System.arraycopy(from, 0, to, 0, from.length);
            best = Math.max(best, from.length / ((System.nanoTime() - start) / 1e9));
        }
        return best;
    }

    /** Builds and runs the floor program; fills {@code floor}; returns how it went, for the header. */
    private static String floor(Path folder, Map<String, double[]> floor) throws IOException, InterruptedException {
        Path source = root().resolve("ipc-bench/src/main/c/floor.c");
        if (!Files.isRegularFile(source)) {
            return "not measured: " + source + " is missing";
        }
        Path binary = folder.resolve("floor");
        String compiler = FreshProcesses.onPath("cc") ? "cc" : FreshProcesses.onPath("gcc") ? "gcc" : null;
        if (compiler == null) {
            return "not measured: no C compiler (cc or gcc) on the PATH";
        }
        Process build = new ProcessBuilder(compiler, "-O2", "-o", binary.toString(), source.toString())
                .redirectErrorStream(true)
                .start();
        String built = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!build.waitFor(60, TimeUnit.SECONDS) || build.exitValue() != 0) {
            return "not measured: " + compiler + " failed: " + built.strip();
        }
        Path scratch = Files.createTempDirectory("ipcf");
        try {
            Process run = new ProcessBuilder(
                            binary.toString(),
                            String.valueOf(Math.max(0, BenchPair.lastOnlineCpu())),
                            scratch.toString())
                    .redirectErrorStream(true)
                    .start();
            String output = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!run.waitFor(120, TimeUnit.SECONDS) || run.exitValue() != 0) {
                run.destroyForcibly();
                return "not measured: the floor program failed: " + output.strip();
            }
            Files.writeString(folder.resolve("floor.txt"), output);
            for (String line : output.split("\n")) {
                String[] f = line.strip().split(" ");
                if (f.length >= 6 && f[0].equals("floor")) {
                    String key = f[1] + " " + f[2] + " " + f[3] + " " + f[4];
                    floor.put(
                            key,
                            f.length == 7
                                    ? new double[] {Double.parseDouble(f[5]), Double.parseDouble(f[6])}
                                    : new double[] {Double.parseDouble(f[5])});
                }
            }
            return null;
        } finally {
            BenchPair.deleteDirectory(scratch);
        }
    }

    double copyBytesPerSecond() {
        return copyBytesPerSecond;
    }

    /** The run's header: the machine, the memory copy, and the kernel's floor for each family. */
    String header() {
        StringBuilder out = new StringBuilder("## ipc benchmark\n\nMachine: ")
                .append(description)
                .append(String.format(Locale.ROOT, ". A memory copy: %.1f GB/s.%n%n", copyBytesPerSecond / 1e9));
        if (floorNote != null) {
            return out.append("The kernel's floor: ")
                    .append(floorNote)
                    .append("\n\n")
                    .toString();
        }
        out.append("The kernel's floor (C, a system call per message, ipc-bench/src/main/c/floor.c):\n\n")
                .append("| family | round trip p50, across CPUs (µs) | same CPU (µs) | one way 64 B, across CPUs "
                        + "(msg/s) "
                        + "| same CPU (msg/s) | 1 MiB one way (MB/s) |\n|---|---:|---:|---:|---:|---:|\n");
        for (String family : List.of("unix", "tcp", "unixgram", "udp")) {
            out.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %s | %s | %s | %s |%n",
                    family,
                    cell(family + " cross roundtrip 64", "%.1f", 1),
                    cell(family + " same roundtrip 64", "%.1f", 1),
                    cell(family + " cross oneway 64", "%,.0f", 1),
                    cell(family + " same oneway 64", "%,.0f", 1),
                    cell(family + " cross oneway 1048576", "%,.0f", 1048576 / 1e6)));
        }
        return out.append('\n').toString();
    }

    private String cell(String key, String format, double scale) {
        double[] value = floor.get(key);
        return value == null ? "–" : String.format(Locale.ROOT, format, value[0] * scale);
    }

    /**
     * A row's cost over the kernel's floor in its family and size, across CPUs (as the benchmark pins its processes): a
     * round trip's p50 over the floor's, a message's time one way over the floor's.
     */
    String versusFloor(Runner.Measured m) {
        boolean roundTrip = Runner.isLatency(m.benchmark);
        if (m.benchmark.equals("connect")) {
            return "–";
        }
        double[] value =
                floor.get(Runner.family(m.transport) + " cross " + (roundTrip ? "roundtrip " : "oneway ") + m.size);
        if (value == null || m.failure != null) {
            return "–";
        }
        double ratio = roundTrip ? m.p50 / value[0] : value[0] / m.delivered();
        return String.format(Locale.ROOT, "%.2fx", ratio);
    }
}
