package dev.ipc.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The comparison runner, end to end on the smallest case: real JMH forks, a real server process. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RunnerTest {

    @TempDir
    Path results;

    @Test
    void runsTheComparisonAndWritesTableJsonAndCharts() throws Exception {
        System.setProperty("java.awt.headless", "true");
        int exit = new CommandLine(new Runner())
                .execute(
                        "--sizes",
                        "64",
                        "--benchmarks",
                        "roundtrip,streaming",
                        "--transports",
                        "unix-jdk,raw-unix",
                        "--time",
                        "100",
                        "--results",
                        results.toString());
        assertEquals(0, exit);
        String table = Files.readString(results.resolve("results.md"));
        assertTrue(table.contains("| 64 B | unix-jdk |") && table.contains("| 64 B | raw-unix |"), table);
        assertTrue(table.contains("1.00x"), "the fastest is the 1.00x: " + table);
        assertTrue(Files.size(results.resolve("jmh.json")) > 100);
        for (String chart : List.of("roundtrip.png", "streaming.png")) {
            assertTrue(Files.size(results.resolve(chart)) > 1000, chart);
        }
    }

    /**
     * A case whose server misses a message, or whose client throws, prints "failed: reason" instead of a figure, and
     * the run's exit status says so.
     */
    @Test
    void aCaseThatLosesAMessageOrThrowsIsReportedAsFailed() throws Exception {
        System.setProperty("java.awt.headless", "true");
        for (String[] fault : new String[][] {{"lose", "the server received"}, {"throw", "a fault injected"}}) {
            Path folder = results.resolve(fault[0]);
            int exit = new CommandLine(new Runner())
                    .execute(
                            "--sizes",
                            "64",
                            "--benchmarks",
                            "streaming",
                            "--transports",
                            "raw-unix",
                            "--time",
                            "100",
                            "--fault",
                            fault[0],
                            "--results",
                            folder.toString());
            System.clearProperty("ipc.bench.fault");
            assertEquals(1, exit, fault[0]);
            String table = Files.readString(folder.resolve("results.md"));
            assertTrue(table.contains("| 64 B | raw-unix | failed: ") && table.contains(fault[1]), table);
        }
    }

    @Test
    void comparesTwoRunsCaseByCase() throws Exception {
        Path older = Files.createDirectories(results.resolve("old"));
        Path newer = Files.createDirectories(results.resolve("new"));
        String header = "benchmark\ttransport\tsize\tcallers\tcost\tspread\tfailure\n";
        Files.writeString(
                older.resolve("cases.tsv"),
                header + "roundtrip\tunix-jdk\t64\t0\t20.0\t0.02\t\n" + "streaming\tunix-jdk\t64\t0\t3.0E-6\t0.03\t\n");
        Files.writeString(
                newer.resolve("cases.tsv"),
                header + "roundtrip\tunix-jdk\t64\t0\t30.0\t0.02\t\n"
                        + "streaming\tunix-jdk\t64\t0\t3.03E-6\t0.03\t\n");
        String report = Compare.compare(older, newer);
        assertTrue(
                report.contains("| roundtrip unix-jdk 64 B | 20.0 µs | 30.0 µs | 1.50x | 5% | **slower** |"), report);
        assertTrue(report.contains("| streaming unix-jdk 64 B | 333,333/s | 330,033/s | 1.01x | 5% |  |"), report);
        assertTrue(report.contains("1 of 2 cases changed"), report);
    }

    @Test
    void namesTheCasesSizesReadably() {
        assertEquals("64 B", Runner.sizeName(64));
        assertEquals("64 KiB", Runner.sizeName(65536));
        assertEquals("1 MiB", Runner.sizeName(1 << 20));
    }
}
