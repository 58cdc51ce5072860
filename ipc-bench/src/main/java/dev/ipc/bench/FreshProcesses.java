package dev.ipc.bench;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A call from a fresh process, as a CLI tool makes one: whole processes started, timed from start to exit, each several
 * times (the median counts), against one {@code IpcServer} echo in its own process: a hello-world JVM, a minimal
 * program that connects with {@code IpcClient} and makes one call, the project's {@code ipc call}, and {@code socat}
 * and a Python client (the protocol in Python's standard library) doing the same, where they are installed.
 */
final class FreshProcesses {

    private FreshProcesses() {}

    /** One contender's command (its standard input from {@code input}, if not null), or why it is skipped. */
    record Contender(String name, List<String> command, Path input, String skipped) {
        Contender(String name, List<String> command, String skipped) {
            this(name, command, null, skipped);
        }
    }

    /** The contenders, against {@code endpoint} (a Unix socket file), in the repository at {@code root}. */
    static List<Contender> contenders(Path root, String endpoint, Path scratch) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> jvm = new ArrayList<>(List.of(java));
        if (Runtime.version().feature() >= 24) {
            jvm.add("--enable-native-access=ALL-UNNAMED");
        }
        String classes = root.resolve("ipc-bench/target/classes").toString();
        // The minimal program's class path: the library's jars and SLF4J's API, no more (no logging binding).
        List<String> minimal = new ArrayList<>(List.of(classes));
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            if (name.startsWith("ipc-api") || name.startsWith("ipc-unix") || name.startsWith("slf4j-api")) {
                minimal.add(entry);
            }
        }
        List<Contender> all = new ArrayList<>();
        List<String> hello = new ArrayList<>(jvm);
        hello.addAll(List.of("-cp", classes, FreshCall.class.getName()));
        all.add(new Contender("hello-world JVM", hello, null));
        List<String> call = new ArrayList<>(jvm);
        call.addAll(List.of("-cp", String.join(File.pathSeparator, minimal), FreshCall.class.getName(), endpoint));
        all.add(new Contender("IpcClient connect + call", call, null));
        Path ipc = root.resolve("ipc");
        all.add(
                Files.isExecutable(ipc) && Files.isRegularFile(root.resolve("ipc-cli/target/classpath.txt"))
                        ? new Contender("ipc call", List.of(ipc.toString(), "call", endpoint, "hi"), null)
                        : new Contender("ipc call", List.of(), "ipc-cli is not built"));
        Path request = scratch.resolve("hello-request.bin");
        Files.write(request, helloAndRequest());
        String path = endpoint.substring("unix:".length());
        all.add(
                onPath("socat")
                        ? new Contender(
                                "socat", List.of("socat", "-t", "5", "-", "UNIX-CONNECT:" + path), request, null)
                        : new Contender("socat", List.of(), "socat is not installed"));
        Path python = root.resolve("ipc-testkit/src/main/resources/ipc_client.py");
        all.add(
                onPath("python3") && Files.isRegularFile(python)
                        ? new Contender("Python client", List.of("python3", python.toString(), endpoint, "hi"), null)
                        : new Contender("Python client", List.of(), "python3 is not installed"));
        return all;
    }

    /** A version 3 HELLO, then a REQUEST (id 1, 30 s, window 16) of "hi": what socat sends before it half-closes. */
    static byte[] helloAndRequest() {
        ByteBuffer bytes = ByteBuffer.allocate(10 + 19);
        bytes.putInt(6)
                .put((byte) 1)
                .put("IPC".getBytes(StandardCharsets.US_ASCII))
                .putShort((short) 3);
        bytes.putInt(15).put((byte) 3).putInt(1).putInt(30_000).putInt(16);
        bytes.put("hi".getBytes(StandardCharsets.US_ASCII));
        return bytes.array();
    }

    /** Whether {@code program} is an executable on the PATH. */
    static boolean onPath(String program) {
        for (String directory : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(directory, program))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs each contender {@code runs} times, unpinned (a CLI tool is not pinned); returns each one's median wall time
     * in milliseconds, or a failure ("failed: ...") or skip reason.
     */
    static Map<String, Object> measure(List<Contender> contenders, int runs) throws InterruptedException {
        Map<String, Object> medians = new LinkedHashMap<>();
        for (Contender contender : contenders) {
            if (contender.skipped() != null) {
                medians.put(contender.name(), "skipped: " + contender.skipped());
                continue;
            }
            double[] times = new double[runs];
            String failure = null;
            for (int i = 0; i < runs && failure == null; i++) {
                List<String> command = new ArrayList<>();
                int cpus = BenchPair.lastOnlineCpu();
                if (cpus >= 1 && Files.isExecutable(Path.of("/usr/bin/taskset"))) {
                    command.addAll(List.of("/usr/bin/taskset", "-c", "0-" + cpus));
                }
                command.addAll(contender.command());
                long start = System.nanoTime();
                try {
                    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
                    if (contender.input() != null) {
                        builder.redirectInput(contender.input().toFile());
                    }
                    Process process = builder.start();
                    byte[] output = process.getInputStream().readAllBytes();
                    if (!process.waitFor(30, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        failure = "did not finish in 30 s";
                    } else if (process.exitValue() != 0 || output.length == 0) {
                        failure = "exit " + process.exitValue() + ": "
                                + new String(output, StandardCharsets.UTF_8)
                                        .strip()
                                        .replace('\n', ' ');
                    }
                } catch (IOException e) {
                    failure = e.toString();
                }
                times[i] = (System.nanoTime() - start) / 1e6;
            }
            if (failure != null) {
                medians.put(contender.name(), "failed: " + failure);
            } else {
                Arrays.sort(times);
                medians.put(contender.name(), times[runs / 2]);
            }
        }
        return medians;
    }

    /** Runs the fresh-process case against an {@code IpcServer} echo in its own process; returns its table. */
    static String table(int runs) throws Exception {
        Path scratch = Files.createTempDirectory("ipcr");
        try (BenchPair pair = BenchPair.start("call-unix", "process", true)) {
            String endpoint = "unix:" + pair.endpoint.path().orElseThrow();
            Map<String, Object> medians = measure(contenders(Machine.root(), endpoint, scratch), runs);
            Object hello = medians.get("hello-world JVM");
            StringBuilder out = new StringBuilder(String.format(
                    Locale.ROOT,
                    "### A call from a fresh process (whole processes, median of %d, unpinned), lower is better%n%n"
                            + "| process | wall time (ms) | vs a hello-world JVM |%n|---|---:|---:|%n",
                    runs));
            for (Map.Entry<String, Object> entry : medians.entrySet()) {
                Object value = entry.getValue();
                out.append("| ").append(entry.getKey()).append(" | ");
                if (value instanceof Double) {
                    out.append(String.format(Locale.ROOT, "%.0f", (Double) value))
                            .append(" | ");
                    out.append(
                            hello instanceof Double
                                    ? String.format(Locale.ROOT, "%.2fx", (Double) value / (Double) hello)
                                    : "–");
                } else {
                    out.append(value).append(" | –");
                }
                out.append(" |\n");
            }
            return out.append("\nEach connects to the same IpcServer echo, sends one request "
                            + "(\"hi\") and waits for its reply: the project's CLI, the minimal Java "
                            + "program (ipc-api and ipc-unix on the class path, dev.ipc.bench.FreshCall), "
                            + "socat with the request's bytes (it half-closes; the server answers, then "
                            + "ends), and the Python client of ipc-testkit.\n\n")
                    .toString();
        } finally {
            BenchPair.deleteDirectory(scratch);
        }
    }
}
