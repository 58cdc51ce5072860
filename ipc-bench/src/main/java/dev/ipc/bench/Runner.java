package dev.ipc.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The one-command comparison: runs the round-trip and streaming benchmarks for each transport and size, prints a
 * Markdown table, and writes the raw JMH results (JSON), the table and a chart (PNG) to a results folder named on its
 * last line.
 */
@Command(
        name = "ipc-bench",
        mixinStandardHelpOptions = true,
        description = "Compares what IPC costs on this machine: Unix sockets through the JDK and junixsocket, "
                + "TCP loopback, the same exchanges on raw JDK channels, the library's IpcClient calls, and the peers "
                + "a user would pick instead (Netty, gRPC).")
public final class Runner implements Callable<Integer> {

    @Option(
            names = "--transports",
            split = ",",
            description = "Transports to compare (with --all or any of --benchmarks, --sizes, --callers: every one of "
                    + BenchPair.TRANSPORTS + ").")
    List<String> transports;

    @Option(names = "--sizes", split = ",", description = "Message sizes in bytes (with --all: 64 and 1048576).")
    List<Integer> sizes;

    @Option(
            names = "--benchmarks",
            split = ",",
            description = "roundtrip, streaming, streaming4 (four sending "
                    + "threads), bursts, bursts4 (write bursts of 64 messages, then flush), calls (calls per "
                    + "second, many callers on one client, 64 B), async (calls per second through callAsync, "
                    + "as many in flight as --callers from one thread, 64 B), clients8 (eight clients' "
                    + "round trips), connect (connect + one round trip, 64 B only) (with --all: every one but "
                    + "clients8).")
    List<String> benchmarks;

    @Option(
            names = "--callers",
            split = ",",
            description = "Callers sharing one client in the calls benchmark (with --all: 16 and 128).")
    List<Integer> callers;

    @Option(
            names = "--all",
            description = "The full matrix (every transport, 64 B and 1 MiB, 16 and 128 callers, connection setup), "
                    + "the peers' cross-checks too: about 15 minutes. Without it, and without --benchmarks, "
                    + "--transports, --sizes or --callers, the default run answers the headline questions in about "
                    + "three.")
    boolean all;

    @Option(
            names = "--peers",
            description = "Also run the stand-alone Netty program (dev.ipc.bench.alone) and show its figures beside "
                    + "the benchmark's Netty rows (--all does too).")
    boolean peers;

    @Option(
            names = "--compare",
            arity = "2",
            paramLabel = "FOLDER",
            description = "Compare two result folders (OLD NEW): each case's ratio, flagged where it changed by more "
                    + "than the run-to-run spread. Runs nothing.")
    List<Path> compare;

    @Option(names = "--runs", description = "Runs of each fresh process (default: ${DEFAULT-VALUE}).")
    int runs = 3;

    /** For the runner's own test: lose or throw (see {@link Tally#FAULT}). */
    @Option(names = "--fault", hidden = true)
    String fault;

    /**
     * The default run's cases: each headline question with its peers, 64 B where the size is not the question.
     * Benchmark, sizes, callers (0: none), transports.
     */
    static final Object[][] DEFAULT_CASES = {
        // gRPC's round trip is in --all: warming it (10 s) costs more than the default run's budget has left.
        {"roundtrip", 64, 0, "unix-jdk,shm,tcp,raw-unix,call-unix,netty-unix"},
        {"streaming", 64, 0, "unix-jdk,shm,netty-unix,grpc-unix"},
        {"streaming", 1048576, 0, "unix-jdk,shm,netty-unix"},
        {"streaming4", 64, 0, "unix-jdk,netty-unix"},
        {"bursts", 64, 0, "unix-jdk,netty-unix"},
        {"calls", 64, 16, "call-unix"},
        {"async", 64, 16, "call-unix,grpc-unix"},
        {"connect", 64, 0, "call-unix,raw-unix"},
    };

    /** Each benchmark's JMH method, whether it measures latency (else throughput), and its table's title. */
    private static final Map<String, String[]> BENCHMARKS = new LinkedHashMap<>();

    static {
        BENCHMARKS.put("roundtrip", new String[] {
            RoundTripBenchmark.class.getName() + ".roundTrip$", "latency", "Round trip (ping-pong), lower is better"
        });
        BENCHMARKS.put("streaming", new String[] {
            StreamingBenchmark.class.getName() + ".send$",
            "throughput",
            "One-way streaming, one sending thread, higher is better"
        });
        BENCHMARKS.put("streaming4", new String[] {
            StreamingBenchmark.class.getName() + ".sendFromFourThreads$",
            "throughput",
            "One-way streaming, four threads sending on one connection, higher is better"
        });
        BENCHMARKS.put("bursts", new String[] {
            StreamingBenchmark.class.getName() + ".writeBursts$",
            "throughput",
            "One-way streaming, one thread writing bursts of " + StreamingBenchmark.BURST
                    + " messages and flushing, higher is better"
        });
        BENCHMARKS.put("bursts4", new String[] {
            StreamingBenchmark.class.getName() + ".writeBurstsFromFourThreads$",
            "throughput",
            "One-way streaming, four threads writing bursts of " + StreamingBenchmark.BURST
                    + " messages on one connection, higher is better"
        });
        BENCHMARKS.put("calls", new String[] {
            CallsBenchmark.class.getName() + ".call$",
            "throughput",
            "Calls per second, many callers sharing one client (64 B), higher is better"
        });
        BENCHMARKS.put("async", new String[] {
            AsyncCallsBenchmark.class.getName() + ".callAsync$",
            "throughput",
            "Calls per second through callAsync, one thread keeping that many calls in flight on one client (64 B), "
                    + "higher is better"
        });
        BENCHMARKS.put("clients8", new String[] {
            ConcurrentClientsBenchmark.class.getName() + ".roundTrip$",
            "throughput",
            "Eight clients making round trips against one server (round trips/s), higher is better"
        });
        BENCHMARKS.put("connect", new String[] {
            ConnectBenchmark.class.getName() + ".connectAndRoundTrip$",
            "latency",
            "Connection setup: connect, one round trip, close; lower is better"
        });
    }

    @Option(
            names = "--server",
            description = "Where the server runs: process (its own JVM) or thread " + "(default: ${DEFAULT-VALUE}).")
    String server = "process";

    @Option(
            names = "--time",
            description = "Milliseconds per warm-up and measurement iteration " + "(default: ${DEFAULT-VALUE}).")
    int iterationMillis = 300;

    @Option(names = "--full", description = "JMH's proper run: 3 warm-up and 5 measurement iterations of 2 s each.")
    boolean full;

    @Option(names = "--results", description = "Folder for the results (default: results/<date-time>).")
    Path results;

    /** Runs the comparison. */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new Runner()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (compare != null) {
            System.out.print(Compare.compare(compare.get(0), compare.get(1)));
            return 0;
        }
        if (fault != null) {
            System.setProperty("ipc.bench.fault", fault);
        }
        Path folder = results != null
                ? results
                : Path.of("results", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(folder);
        long began = System.nanoTime();
        Machine machine = Machine.measure(folder);
        System.out.println(machine.header());
        List<Measured> measured = new ArrayList<>();
        List<RunResult> raw = new ArrayList<>();
        List<Object[]> cases = cases(); // benchmark, transport, size, callers
        int done = 0;
        for (Object[] one : cases) {
            String benchmark = (String) one[0];
            String transport = (String) one[1];
            int size = (Integer) one[2];
            int threads = (Integer) one[3];
            done++;
            System.out.printf(
                    Locale.ROOT,
                    "[%d/%d] %s, %s, %s%s ... ",
                    done,
                    cases.size(),
                    benchmark,
                    sizeName(size),
                    transport,
                    threads > 0 ? ", " + threads + " callers" : "");
            System.out.flush();
            Measured m;
            long caseBegan = System.nanoTime();
            try {
                RunResult result = run(benchmark, transport, size, threads);
                raw.add(result);
                m = Measured.of(benchmark, transport, size, threads, result, lost(benchmark, transport))
                        .checked(machine.copyBytesPerSecond());
            } catch (Exception e) {
                m = Measured.failed(benchmark, transport, size, threads, reason(e));
            }
            measured.add(m);
            System.out.printf(Locale.ROOT, "%s (%.1f s)%n", m.headline(), (System.nanoTime() - caseBegan) / 1e9);
        }
        String table = machine.header() + "\n" + table(measured, machine);
        if (!defaults() && cases.stream().anyMatch(c -> c[1].equals("shm"))) {
            table += IdleCost.table(new String[] {"shm", "unix-jdk"});
        }
        if (all || defaults()) {
            System.out.println("a call from a fresh process ...");
            table += FreshProcesses.table(runs);
        }
        if (all || peers) {
            System.out.println("the peers on their own ...");
            table += PeerCheck.table(measured);
        }
        System.out.println();
        System.out.println(table);
        Files.writeString(folder.resolve("results.md"), table, StandardCharsets.UTF_8);
        Files.writeString(folder.resolve("cases.tsv"), Compare.write(measured), StandardCharsets.UTF_8);
        ResultFormatFactory.getInstance(
                        ResultFormatType.JSON, folder.resolve("jmh.json").toString())
                .writeOut(raw);
        chart(measured, folder);
        long failed = measured.stream().filter(m -> m.failure != null).count() + (table.contains("| failed: ") ? 1 : 0);
        System.out.printf(Locale.ROOT, "took %.0f s%n", (System.nanoTime() - began) / 1e9);
        System.out.println("results: " + folder.toAbsolutePath());
        if (failed > 0) {
            System.out.println("FAILED: some cases failed their own checks (see 'failed:' above)");
            return 1;
        }
        return 0;
    }

    /** Whether this is the default run: no --all, and no selection of benchmarks, transports, sizes or callers. */
    private boolean defaults() {
        return !all && benchmarks == null && transports == null && sizes == null && callers == null;
    }

    /** The cases to run: the default run's, or the matrix of the selected (or, with --all, every) ones. */
    List<Object[]> cases() {
        List<Object[]> cases = new ArrayList<>();
        if (defaults()) {
            for (Object[] row : DEFAULT_CASES) {
                for (String transport : ((String) row[3]).split(",")) {
                    cases.add(new Object[] {row[0], transport, row[1], row[2]});
                }
            }
            return cases;
        }
        List<String> chosenBenchmarks = benchmarks != null
                ? benchmarks
                : List.of("roundtrip", "streaming", "streaming4", "bursts", "bursts4", "calls", "async", "connect");
        List<String> chosenTransports = transports != null ? transports : List.of(BenchPair.TRANSPORTS.split(","));
        List<Integer> chosenSizes = sizes != null ? sizes : List.of(64, 1048576);
        List<Integer> chosenCallers = callers != null ? callers : List.of(16, 128);
        for (String benchmark : chosenBenchmarks) {
            if (!BENCHMARKS.containsKey(benchmark)) {
                throw new CommandLine.ParameterException(
                        new CommandLine(this),
                        "unknown benchmark '" + benchmark + "' (known: " + String.join(", ", BENCHMARKS.keySet())
                                + ")");
            }
            boolean oneSize = benchmark.equals("connect") || perCaller(benchmark);
            for (int size : oneSize ? List.of(64) : chosenSizes) {
                for (int threads : perCaller(benchmark) ? chosenCallers : List.of(0)) {
                    for (String transport : chosenTransports) {
                        if (applies(benchmark, transport)
                                && (!DatagramPeers.isDatagram(transport) || size <= DatagramPeers.maxSize(transport))) {
                            cases.add(new Object[] {benchmark, transport, size, threads});
                        }
                    }
                }
            }
        }
        return cases;
    }

    /** Why a case failed: the innermost message of what JMH reports, on one line. */
    static String reason(Throwable e) {
        Throwable deepest = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            deepest = t;
            for (Throwable suppressed : t.getSuppressed()) {
                deepest = suppressed;
                while (deepest.getCause() != null) {
                    deepest = deepest.getCause();
                }
            }
        }
        String message = deepest.getMessage() == null ? deepest.toString() : deepest.getMessage();
        message = message.strip().replace('\n', ' ').replace('|', '/');
        return message.length() > 160 ? message.substring(0, 160) + "..." : message;
    }

    /**
     * Whether a benchmark has a case for a transport: {@code IpcClient} has no one-way messages, so no streaming for
     * {@code call-*}; a gRPC client stream takes one sender, so no four-thread streaming for it; the calls benchmark is
     * for the clients that multiplex calls ({@code call-*}, {@code grpc-*}); connection setup is the library's and the
     * raw channel's; datagrams have round trips and one-way streams only, and UDP no sizes over 65,507 bytes.
     */
    static boolean applies(String benchmark, String transport) {
        String kind = BenchPair.kind(transport);
        if (DatagramPeers.isDatagram(transport)) {
            return benchmark.equals("roundtrip") || benchmark.equals("streaming");
        }
        switch (benchmark) {
            case "streaming":
                return !kind.equals("call");
            case "streaming4":
            case "bursts":
            case "bursts4":
                return !kind.equals("call") && !kind.equals("grpc");
            case "calls":
            case "async":
                return kind.equals("call") || kind.equals("grpc");
            case "connect":
                return !kind.equals("netty") && !kind.equals("grpc");
            default:
                return true;
        }
    }

    /** Whether a benchmark's cases are per caller count (the calls in flight): calls and async. */
    static boolean perCaller(String benchmark) {
        return benchmark.equals("calls") || benchmark.equals("async");
    }

    /** Where a datagram stream's trial leaves {@code transport size sent received}, read back into the table. */
    private Path losses;

    private RunResult run(String benchmark, String transport, int size, int threads) throws Exception {
        String include = BENCHMARKS.get(benchmark)[0];
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(include)
                .param("transport", transport)
                .param("size", String.valueOf(size))
                .param("server", server)
                .forks(1)
                .verbosity(VerboseMode.SILENT)
                .shouldFailOnError(true);
        if (benchmark.equals("async")) {
            // One thread keeps that many calls in flight.
            options.param("inFlight", String.valueOf(threads)).threads(1).addProfiler(GCProfiler.class);
        } else if (threads > 0) {
            options.threads(threads).addProfiler(GCProfiler.class); // allocation per call: the client's JVM
        }
        List<String> jvmArgs = new ArrayList<>(List.of(
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                // gRPC's client asks for SO_KEEPALIVE, which a Unix socket has not, and warns on every connection.
                "-Dorg.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap=error"));
        if (Runtime.version().feature() >= 24) {
            jvmArgs.add("--enable-native-access=ALL-UNNAMED");
        }
        if (DatagramPeers.isDatagram(transport) && !isLatency(benchmark)) {
            if (losses == null) {
                losses = Files.createTempFile("ipc-bench-losses", ".txt");
                losses.toFile().deleteOnExit();
            }
            Files.writeString(losses, "");
            jvmArgs.add("-Dipc.bench.losses=" + losses);
        }
        if (System.getProperty("ipc.bench.ring") != null) {
            jvmArgs.add("-Dipc.bench.ring=" + System.getProperty("ipc.bench.ring")); // the shm rows' ringSize
        }
        String fault = System.getProperty("ipc.bench.fault");
        if (fault != null) {
            jvmArgs.add("-Dipc.bench.fault=" + fault);
        }
        if (!jvmArgs.isEmpty()) {
            options.jvmArgsAppend(jvmArgs.toArray(new String[0]));
        }
        if (!full) {
            // One warm-up second: Netty's pipeline is not compiled after 600 ms (it ran at a ninth of its speed). A
            // stream from Netty's event loop or gRPC's flow control comes in bursts as the sender and the benchmark's
            // thread take turns on one CPU: 300 ms iterations of it ranged from a fifth to the whole of its rate on
            // its own, so those cases get two warm-up seconds and one-second iterations.
            boolean bursty = !isLatency(benchmark)
                    && !perCaller(benchmark)
                    && (BenchPair.kind(transport).equals("netty")
                            || BenchPair.kind(transport).equals("grpc"));
            options.warmupIterations(1)
                    .warmupTime(TimeValue.milliseconds(bursty ? 2000 : 1000))
                    .measurementIterations(3)
                    .measurementTime(
                            TimeValue.milliseconds(bursty ? Math.max(1000, iterationMillis) : iterationMillis));
        }
        return new org.openjdk.jmh.runner.Runner(options.build()).runSingle(); // same simple name as this class
    }

    /** The share of a datagram stream's messages that did not arrive, from the file its trial wrote; NaN otherwise. */
    private double lost(String benchmark, String transport) throws IOException {
        if (!DatagramPeers.isDatagram(transport) || isLatency(benchmark) || losses == null) {
            return Double.NaN;
        }
        List<String> lines = Files.readAllLines(losses);
        if (lines.isEmpty()) {
            return Double.NaN;
        }
        String[] fields = lines.get(lines.size() - 1).split(" ");
        double sent = Double.parseDouble(fields[2]);
        double received = Double.parseDouble(fields[3]);
        return sent <= 0 ? Double.NaN : Math.max(0, 1 - received / sent);
    }

    static boolean isLatency(String benchmark) {
        return "latency".equals(BENCHMARKS.get(benchmark)[1]);
    }

    static String sizeName(int size) {
        return size >= 1 << 20 ? (size >> 20) + " MiB" : size >= 1 << 10 ? (size >> 10) + " KiB" : size + " B";
    }

    /** One case's figures. */
    static final class Measured {
        final String benchmark;
        final String transport;
        final int size;
        final int callers; // 0 where the benchmark has none of its own
        final double p50;
        final double p99;
        final double perSecond;
        final double bytesPerOp; // NaN where not measured
        final double lost; // the share of datagrams that did not arrive; NaN for streams and round trips
        /** Why the case failed its own checks, or null. */
        String failure;
        /** The largest relative distance of an iteration's figure from the median of them: the run-to-run spread. */
        double spread = Double.NaN;

        Measured(
                String benchmark,
                String transport,
                int size,
                int callers,
                double p50,
                double p99,
                double perSecond,
                double bytesPerOp,
                double lost) {
            this.benchmark = benchmark;
            this.transport = transport;
            this.size = size;
            this.callers = callers;
            this.p50 = p50;
            this.p99 = p99;
            this.perSecond = perSecond;
            this.bytesPerOp = bytesPerOp;
            this.lost = lost;
        }

        static Measured failed(String benchmark, String transport, int size, int callers, String reason) {
            Measured m = new Measured(
                    benchmark, transport, size, callers, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            m.failure = reason;
            return m;
        }

        /**
         * Fails the case whose figure the machine cannot reach: more bytes per second than a memory copy, or nothing.
         */
        Measured checked(double copyBytesPerSecond) {
            if (failure == null && !isLatency(benchmark)) {
                double bytes = perSecond * size;
                if (!(perSecond > 0)) {
                    failure = "no messages measured";
                } else if (bytes > copyBytesPerSecond) {
                    failure = String.format(
                            Locale.ROOT,
                            "%.0f MB/s is more than a memory copy on this machine (%.0f MB/s)",
                            bytes / 1e6,
                            copyBytesPerSecond / 1e6);
                }
            } else if (failure == null && !(p50 > 0)) {
                failure = "no round trips measured";
            }
            return this;
        }

        static Measured of(String benchmark, String transport, int size, int callers, RunResult run, double lost) {
            Measured m = of0(benchmark, transport, size, callers, run, lost);
            List<Double> figures = new ArrayList<>();
            for (var iteration : run.getBenchmarkResults().iterator().next().getIterationResults()) {
                var statistics = iteration.getPrimaryResult().getStatistics();
                figures.add(
                        isLatency(benchmark)
                                ? statistics.getPercentile(50)
                                : iteration.getPrimaryResult().getScore());
            }
            if (!figures.isEmpty()) {
                figures.sort(null);
                double median = figures.get(figures.size() / 2);
                m.spread = figures.stream()
                        .mapToDouble(f -> Math.abs(f - median) / median)
                        .max()
                        .orElse(Double.NaN);
            }
            return m;
        }

        private static Measured of0(
                String benchmark, String transport, int size, int callers, RunResult run, double lost) {
            Result<?> primary = run.getPrimaryResult();
            Result<?> allocated = run.getSecondaryResults().get("gc.alloc.rate.norm");
            if (allocated == null) {
                allocated = run.getSecondaryResults().get("\u00b7gc.alloc.rate.norm"); // JMH before 1.36
            }
            double bytes = allocated == null ? Double.NaN : allocated.getScore();
            if (isLatency(benchmark)) {
                return new Measured(
                        benchmark,
                        transport,
                        size,
                        callers,
                        primary.getStatistics().getPercentile(50),
                        primary.getStatistics().getPercentile(99),
                        Double.NaN,
                        bytes,
                        Double.NaN);
            }
            return new Measured(
                    benchmark, transport, size, callers, Double.NaN, Double.NaN, primary.getScore(), bytes, lost);
        }

        /** The case this row is compared within: the same size, and the same callers. */
        boolean sameCase(Measured other) {
            return other.size == size && other.callers == callers;
        }

        /** Smaller is better for round trips, larger for streaming; as a cost to compare. */
        double cost() {
            return isLatency(benchmark) ? p50 : 1 / perSecond;
        }

        String headline() {
            if (failure != null) {
                return "failed: " + failure;
            }
            return isLatency(benchmark)
                    ? String.format(Locale.ROOT, "p50 %.1f us, p99 %.1f us", p50, p99)
                    : String.format(Locale.ROOT, "%,.0f msg/s, %.1f MB/s", perSecond, perSecond * size / 1e6)
                            + (Double.isNaN(lost) ? "" : String.format(Locale.ROOT, ", %.1f%% lost", lost * 100));
        }

        /** Messages that arrived per second: those sent, less the lost ones. */
        double delivered() {
            return Double.isNaN(lost) ? perSecond : perSecond * (1 - lost);
        }
    }

    /** The Markdown table: one row per case, with the ratio to each peer in the same case and family. */
    static String table(List<Measured> measured, Machine machine) {
        StringBuilder out = new StringBuilder();
        for (String benchmark : BENCHMARKS.keySet()) {
            List<Measured> rows =
                    measured.stream().filter(m -> m.benchmark.equals(benchmark)).collect(Collectors.toList());
            if (rows.isEmpty()) {
                continue;
            }
            boolean roundTrip = isLatency(benchmark);
            boolean calls = perCaller(benchmark);
            out.append("### ").append(BENCHMARKS.get(benchmark)[2]).append("\n\n");
            if (calls) {
                out.append(benchmark.equals("async") ? "| in flight " : "| callers ");
                out.append("| transport | calls/s | B/op (client) | vs grpc |\n|---|---|---:|---:|---:|\n");
            } else {
                out.append(
                        roundTrip
                                ? "| size | transport | p50 (µs) | p99 (µs) | vs floor | vs raw | vs netty | vs "
                                        + "grpc |\n"
                                        + "|---|---|---:|---:|---:|---:|---:|---:|\n"
                                : "| size | transport | per second | MB/s | lost | vs floor | vs raw | vs netty | vs "
                                        + "grpc |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
            }
            for (Measured m : rows) {
                String first = calls ? String.valueOf(m.callers) : sizeName(m.size);
                if (m.failure != null) {
                    int cells = calls ? 3 : roundTrip ? 6 : 7;
                    out.append("| ")
                            .append(first)
                            .append(" | ")
                            .append(m.transport)
                            .append(" | failed: ");
                    out.append(m.failure)
                            .append(" |")
                            .append(" – |".repeat(cells - 1))
                            .append('\n');
                    continue;
                }
                if (calls) {
                    out.append(String.format(
                            Locale.ROOT,
                            "| %d | %s | %,.0f | %s | %s |%n",
                            m.callers,
                            m.transport,
                            m.perSecond,
                            Double.isNaN(m.bytesPerOp) ? "–" : String.format(Locale.ROOT, "%,.0f", m.bytesPerOp),
                            ratio(m, rows, "grpc")));
                    continue;
                }
                String peers = machine.versusFloor(m) + " | " + ratio(m, rows, "raw") + " | " + ratio(m, rows, "netty")
                        + " | " + ratio(m, rows, "grpc");
                out.append(
                        roundTrip
                                ? String.format(
                                        Locale.ROOT,
                                        "| %s | %s | %.1f | %.1f | %s |%n",
                                        sizeName(m.size),
                                        m.transport,
                                        m.p50,
                                        m.p99,
                                        peers)
                                : String.format(
                                        Locale.ROOT,
                                        "| %s | %s | %,.0f | %.1f | %s | %s |%n",
                                        sizeName(m.size),
                                        m.transport,
                                        m.perSecond,
                                        m.perSecond * m.size / 1e6,
                                        Double.isNaN(m.lost) ? "–" : String.format(Locale.ROOT, "%.1f%%", m.lost * 100),
                                        peers));
            }
            out.append('\n');
        }
        List<Measured> passed = measured.stream().filter(m -> m.failure == null).collect(Collectors.toList());
        out.append(streamsAndDatagrams(passed));
        out.append(sharedMemory(passed));
        out.append("Ratios are costs (time per round trip or per message) over the peer's in the same "
                        + "case, on the same ")
                .append("family (Unix stream, TCP, Unix datagram or UDP): below 1.00x is faster than the peer. floor: "
                        + "the kernel's, a C client and server in the same family and size, across CPUs (above); raw: "
                        + "the JDK channel (junixsocket's for Unix datagrams) ")
                .append("with hand-written framing; netty: Netty 4.2, epoll, sending from its event loop; grpc: "
                        + "gRPC-java unary calls (a client stream")
                .append(" when streaming) over a Unix socket. A figure is shown only where its case passed its own "
                        + "checks (the server counted every message sent, no exception anywhere, no rate above a "
                        + "memory copy); a case that did not says 'failed:' and why.\n\n");
        return out.toString();
    }

    /** The family of a transport: unix, tcp, unixgram or udp. */
    static String family(String transport) {
        if (DatagramPeers.isDatagram(transport)) {
            return transport.endsWith("udp") ? "udp" : "unixgram";
        }
        return transport.contains("tcp") ? "tcp" : "unix";
    }

    /** Each datagram case beside the stream it would replace: UDP beside TCP, Unix datagrams beside Unix streams. */
    private static final String[][] DATAGRAM_AND_STREAM = {
        {"udp", "tcp"}, {"raw-udp", "raw-tcp"}, {"unixgram", "unix-jdk"}, {"raw-unixgram", "raw-unix"}
    };

    /**
     * The table that answers "stream or datagram?": for each size, the datagram cases beside the stream case of the
     * same kind, round trip p50 and messages delivered per second, and the datagram's cost over the stream's.
     */
    static String streamsAndDatagrams(List<Measured> measured) {
        StringBuilder rows = new StringBuilder();
        for (int size :
                measured.stream().mapToInt(m -> m.size).distinct().sorted().toArray()) {
            for (String[] pair : DATAGRAM_AND_STREAM) {
                Measured datagramTrip = find(measured, "roundtrip", pair[0], size);
                Measured streamTrip = find(measured, "roundtrip", pair[1], size);
                Measured datagramFlow = find(measured, "streaming", pair[0], size);
                Measured streamFlow = find(measured, "streaming", pair[1], size);
                if ((datagramTrip == null || streamTrip == null) && (datagramFlow == null || streamFlow == null)) {
                    continue;
                }
                rows.append(String.format(
                        Locale.ROOT,
                        "| %s | %s vs %s | %s | %s | %s | %s | %s | %s | %s |%n",
                        sizeName(size),
                        pair[0],
                        pair[1],
                        datagramTrip == null ? "–" : String.format(Locale.ROOT, "%.1f", datagramTrip.p50),
                        streamTrip == null ? "–" : String.format(Locale.ROOT, "%.1f", streamTrip.p50),
                        datagramTrip == null || streamTrip == null
                                ? "–"
                                : String.format(Locale.ROOT, "%.2fx", datagramTrip.p50 / streamTrip.p50),
                        datagramFlow == null ? "–" : String.format(Locale.ROOT, "%,.0f", datagramFlow.delivered()),
                        datagramFlow == null || Double.isNaN(datagramFlow.lost)
                                ? "–"
                                : String.format(Locale.ROOT, "%.1f%%", datagramFlow.lost * 100),
                        streamFlow == null ? "–" : String.format(Locale.ROOT, "%,.0f", streamFlow.perSecond),
                        datagramFlow == null || streamFlow == null
                                ? "–"
                                : String.format(
                                        Locale.ROOT, "%.2fx", streamFlow.perSecond / datagramFlow.delivered())));
            }
        }
        if (rows.length() == 0) {
            return "";
        }
        return "### Streams and datagrams: each datagram case beside the stream it would replace\n\n"
                + "| size | datagram vs stream | datagram p50 (µs) | stream p50 (µs) | round trip cost | "
                + "datagrams delivered/s | lost | stream msg/s | one-way cost |\n"
                + "|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
                + rows
                + "\nCosts are the datagram's time over the stream's (below 1.00x: the datagram is faster); one-way, "
                + "per message delivered, so that what UDP lost counts against it.\n\n";
    }

    /**
     * The table that answers "is shared memory worth it?": for each size, the shared-memory connection beside the same
     * library's Unix socket and beside Netty's, with the targets: a round trip at most 0.15x the socket's, 64 B
     * one-way at least 3x Netty's rate, 1 MiB one-way at least 2x the socket's.
     */
    static String sharedMemory(List<Measured> measured) {
        StringBuilder rows = new StringBuilder();
        for (int size :
                measured.stream().mapToInt(m -> m.size).distinct().sorted().toArray()) {
            Measured trip = find(measured, "roundtrip", "shm", size);
            Measured socketTrip = find(measured, "roundtrip", "unix-jdk", size);
            Measured flow = find(measured, "streaming", "shm", size);
            Measured socketFlow = find(measured, "streaming", "unix-jdk", size);
            Measured nettyFlow = find(measured, "streaming", "netty-unix", size);
            if (trip == null && flow == null) {
                continue;
            }
            rows.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %s | %s | %s | %s | %s | %s |%n",
                    sizeName(size),
                    trip == null ? "–" : String.format(Locale.ROOT, "%.2f", trip.p50),
                    socketTrip == null ? "–" : String.format(Locale.ROOT, "%.2f", socketTrip.p50),
                    trip == null || socketTrip == null
                            ? "–"
                            : String.format(Locale.ROOT, "%.2fx", trip.p50 / socketTrip.p50),
                    flow == null ? "–" : String.format(Locale.ROOT, "%,.0f", flow.perSecond),
                    flow == null || socketFlow == null
                            ? "–"
                            : String.format(Locale.ROOT, "%.2fx", flow.perSecond / socketFlow.perSecond),
                    flow == null || nettyFlow == null
                            ? "–"
                            : String.format(Locale.ROOT, "%.2fx", flow.perSecond / nettyFlow.perSecond),
                    flow == null ? "–" : String.format(Locale.ROOT, "%.1f", flow.perSecond * size / 1e6)));
        }
        if (rows.length() == 0) {
            return "";
        }
        return "### Shared memory beside the socket\n\n"
                + "| size | shm p50 (µs) | unix-jdk p50 (µs) | round trip cost | shm msg/s | vs unix-jdk | vs "
                + "netty-unix "
                + "| shm MB/s |\n"
                + "|---|---:|---:|---:|---:|---:|---:|---:|\n"
                + rows
                + "\nRound trip cost: shm's time over the socket's (target 0.15x or less at 64 B). One-way: shm's rate "
                + "over the other's (targets: 3x Netty's or more at 64 B, 2x the socket's or more at 1 MiB).\n\n";
    }

    private static Measured find(List<Measured> measured, String benchmark, String transport, int size) {
        return measured.stream()
                .filter(m -> m.benchmark.equals(benchmark) && m.transport.equals(transport) && m.size == size)
                .findFirst()
                .orElse(null);
    }

    /** {@code m}'s cost over the peer's of the same family and case, or a dash where there is none. */
    private static String ratio(Measured m, List<Measured> rows, String peer) {
        String name = peer + "-" + family(m.transport);
        return rows.stream()
                .filter(r -> r.transport.equals(name) && r.sameCase(m) && r.failure == null && m.failure == null)
                .findFirst()
                .map(r -> String.format(Locale.ROOT, "%.2fx", m.cost() / r.cost()))
                .orElse("–");
    }

    /** A row's group on a chart: its size, or its callers. */
    private static String category(Measured m) {
        return m.callers > 0 ? m.callers + " callers" : sizeName(m.size);
    }

    private static void chart(List<Measured> measured, Path folder) throws IOException {
        for (String benchmark : BENCHMARKS.keySet()) {
            List<Measured> rows = measured.stream()
                    .filter(m -> m.benchmark.equals(benchmark) && m.failure == null)
                    .collect(Collectors.toList());
            if (rows.isEmpty()) {
                continue;
            }
            boolean roundTrip = isLatency(benchmark);
            // Ratios, not absolute figures: sizes differ by orders of magnitude, and the ratio is the comparison.
            CategoryChart chart = new CategoryChartBuilder()
                    .width(1000)
                    .height(560)
                    .title(BENCHMARKS.get(benchmark)[2].replaceAll(",? (lower|higher) is better", "")
                            + (roundTrip ? ": p50" : ": time per message"))
                    .xAxisTitle(
                            benchmark.equals("calls")
                                    ? "callers on one client"
                                    : benchmark.equals("async") ? "calls in flight on one client" : "message size")
                    .yAxisTitle("x the fastest (lower is better)")
                    .build();
            // Beside the plot, not over it: inside, the legend covered the first group of bars.
            chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
            List<String> sizes = rows.stream().map(Runner::category).distinct().collect(Collectors.toList());
            for (String transport :
                    rows.stream().map(m -> m.transport).distinct().collect(Collectors.toList())) {
                List<Double> values = new ArrayList<>();
                for (Measured m : rows) {
                    if (m.transport.equals(transport)) {
                        double best = rows.stream()
                                .filter(r -> r.sameCase(m))
                                .mapToDouble(Measured::cost)
                                .min()
                                .orElse(1);
                        values.add(m.cost() / best);
                    }
                }
                chart.addSeries(
                        transport,
                        rows.stream()
                                .filter(m -> m.transport.equals(transport))
                                .map(Runner::category)
                                .collect(Collectors.toList()),
                        values);
            }
            BitmapEncoder.saveBitmap(chart, folder.resolve(benchmark).toString(), BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
