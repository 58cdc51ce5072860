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

    @Test
    void namesTheCasesSizesReadably() {
        assertEquals("64 B", Runner.sizeName(64));
        assertEquals("64 KiB", Runner.sizeName(65536));
        assertEquals("1 MiB", Runner.sizeName(1 << 20));
    }
}
