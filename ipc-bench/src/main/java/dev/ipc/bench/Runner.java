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
                + "TCP loopback, and the same exchanges on raw JDK channels.")
public final class Runner implements Callable<Integer> {

    @Option(names = "--transports", split = ",", description = "Transports to compare (default: ${DEFAULT-VALUE}).")
    List<String> transports = List.of(BenchPair.TRANSPORTS.split(","));

    @Option(names = "--sizes", split = ",", description = "Message sizes in bytes (default: ${DEFAULT-VALUE}).")
    List<Integer> sizes = List.of(64, 1024, 65536, 1048576);

    @Option(
            names = "--benchmarks",
            split = ",",
            description = "roundtrip, streaming, streaming4 (four sending "
                    + "threads), clients8 (eight clients' round trips), connect (connect + one round trip, 64 B only) "
                    + "(default: ${DEFAULT-VALUE}).")
    List<String> benchmarks = List.of("roundtrip", "streaming", "streaming4");

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
        Path folder = results != null
                ? results
                : Path.of("results", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(folder);
        List<Measured> measured = new ArrayList<>();
        List<RunResult> raw = new ArrayList<>();
        int total = benchmarks.stream()
                        .mapToInt(b -> b.equals("connect") ? 1 : sizes.size())
                        .sum()
                * transports.size();
        int done = 0;
        for (String benchmark : benchmarks) {
            for (int size : benchmark.equals("connect") ? List.of(64) : sizes) {
                for (String transport : transports) {
                    done++;
                    System.out.printf(
                            Locale.ROOT, "[%d/%d] %s, %s, %s ... ", done, total, benchmark, sizeName(size), transport);
                    System.out.flush();
                    RunResult result = run(benchmark, transport, size);
                    raw.add(result);
                    Measured m = Measured.of(benchmark, transport, size, result);
                    measured.add(m);
                    System.out.println(m.headline());
                }
            }
        }
        String table = table(measured);
        System.out.println();
        System.out.println(table);
        Files.writeString(folder.resolve("results.md"), table, StandardCharsets.UTF_8);
        ResultFormatFactory.getInstance(
                        ResultFormatType.JSON, folder.resolve("jmh.json").toString())
                .writeOut(raw);
        chart(measured, folder);
        System.out.println("results: " + folder.toAbsolutePath());
        return 0;
    }

    private RunResult run(String benchmark, String transport, int size) throws Exception {
        String[] known = BENCHMARKS.get(benchmark);
        if (known == null) {
            throw new CommandLine.ParameterException(
                    new CommandLine(this),
                    "unknown benchmark '" + benchmark + "' (known: " + String.join(", ", BENCHMARKS.keySet()) + ")");
        }
        String include = known[0];
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(include)
                .param("transport", transport)
                .param("size", String.valueOf(size))
                .param("server", server)
                .forks(1)
                .verbosity(VerboseMode.SILENT)
                .shouldFailOnError(true);
        if (Runtime.version().feature() >= 24) {
            options.jvmArgsAppend(
                    "--enable-native-access=ALL-UNNAMED", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        }
        if (!full) {
            options.warmupIterations(2)
                    .warmupTime(TimeValue.milliseconds(iterationMillis))
                    .measurementIterations(3)
                    .measurementTime(TimeValue.milliseconds(iterationMillis));
        }
        return new org.openjdk.jmh.runner.Runner(options.build()).runSingle(); // same simple name as this class
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
        final double p50;
        final double p99;
        final double perSecond;

        private Measured(String benchmark, String transport, int size, double p50, double p99, double perSecond) {
            this.benchmark = benchmark;
            this.transport = transport;
            this.size = size;
            this.p50 = p50;
            this.p99 = p99;
            this.perSecond = perSecond;
        }

        static Measured of(String benchmark, String transport, int size, RunResult run) {
            Result<?> primary = run.getPrimaryResult();
            if (isLatency(benchmark)) {
                return new Measured(
                        benchmark,
                        transport,
                        size,
                        primary.getStatistics().getPercentile(50),
                        primary.getStatistics().getPercentile(99),
                        Double.NaN);
            }
            return new Measured(benchmark, transport, size, Double.NaN, Double.NaN, primary.getScore());
        }

        /** Smaller is better for round trips, larger for streaming; as a cost to compare. */
        double cost() {
            return isLatency(benchmark) ? p50 : 1 / perSecond;
        }

        String headline() {
            return isLatency(benchmark)
                    ? String.format(Locale.ROOT, "p50 %.1f us, p99 %.1f us", p50, p99)
                    : String.format(Locale.ROOT, "%,.0f msg/s, %.1f MB/s", perSecond, perSecond * size / 1e6);
        }
    }

    /** The Markdown table: one row per case, with the ratio to the fastest transport for the same size. */
    static String table(List<Measured> measured) {
        StringBuilder out = new StringBuilder();
        for (String benchmark : BENCHMARKS.keySet()) {
            List<Measured> rows =
                    measured.stream().filter(m -> m.benchmark.equals(benchmark)).collect(Collectors.toList());
            if (rows.isEmpty()) {
                continue;
            }
            boolean roundTrip = isLatency(benchmark);
            out.append("### ").append(BENCHMARKS.get(benchmark)[2]).append("\n\n");
            out.append(
                    roundTrip
                            ? "| size | transport | p50 (µs) | p99 (µs) | vs fastest |\n|---|---|---:|---:|---:|\n"
                            : "| size | transport | per second | MB/s | vs fastest |\n|---|---|---:|---:|---:|\n");
            for (Measured m : rows) {
                double best = rows.stream()
                        .filter(r -> r.size == m.size)
                        .mapToDouble(Measured::cost)
                        .min()
                        .orElse(1);
                String ratio = String.format(Locale.ROOT, "%.2fx", m.cost() / best);
                out.append(
                        roundTrip
                                ? String.format(
                                        Locale.ROOT,
                                        "| %s | %s | %.1f | %.1f | %s |%n",
                                        sizeName(m.size),
                                        m.transport,
                                        m.p50,
                                        m.p99,
                                        ratio)
                                : String.format(
                                        Locale.ROOT,
                                        "| %s | %s | %,.0f | %.1f | %s |%n",
                                        sizeName(m.size),
                                        m.transport,
                                        m.perSecond,
                                        m.perSecond * m.size / 1e6,
                                        ratio));
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static void chart(List<Measured> measured, Path folder) throws IOException {
        for (String benchmark : BENCHMARKS.keySet()) {
            List<Measured> rows =
                    measured.stream().filter(m -> m.benchmark.equals(benchmark)).collect(Collectors.toList());
            if (rows.isEmpty()) {
                continue;
            }
            boolean roundTrip = isLatency(benchmark);
            // Ratios, not absolute figures: sizes differ by orders of magnitude, and the ratio is the comparison.
            CategoryChart chart = new CategoryChartBuilder()
                    .width(1000)
                    .height(560)
                    .title(BENCHMARKS.get(benchmark)[2].replaceAll(",? (lower|higher) is better", "")
                            + (roundTrip ? ": p50" : ": time per message")
                            + " relative to the fastest (lower is better)")
                    .xAxisTitle("message size")
                    .yAxisTitle("x fastest")
                    .build();
            chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
            List<String> sizes = rows.stream()
                    .map(m -> m.size)
                    .distinct()
                    .map(Runner::sizeName)
                    .collect(Collectors.toList());
            for (String transport :
                    rows.stream().map(m -> m.transport).distinct().collect(Collectors.toList())) {
                List<Double> values = new ArrayList<>();
                for (Measured m : rows) {
                    if (m.transport.equals(transport)) {
                        double best = rows.stream()
                                .filter(r -> r.size == m.size)
                                .mapToDouble(Measured::cost)
                                .min()
                                .orElse(1);
                        values.add(m.cost() / best);
                    }
                }
                chart.addSeries(transport, sizes, values);
            }
            BitmapEncoder.saveBitmap(chart, folder.resolve(benchmark).toString(), BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
