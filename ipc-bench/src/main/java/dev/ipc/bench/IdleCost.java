package dev.ipc.bench;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Locale;

/**
 * What an idle connected pair costs: a client and a server process, connected and silent after one round trip, and the
 * CPU time both processes use over a few seconds, as a share of one CPU. A shared-memory connection spins only for its
 * spin budget after each message and then sleeps on its socket; this shows it, beside a socket connection for the JVMs'
 * own background work (compilers, collector).
 */
final class IdleCost {

    private static final Duration SETTLE = Duration.ofSeconds(3);
    private static final Duration WINDOW = Duration.ofSeconds(5);

    private IdleCost() {}

    /** Both processes' CPU over {@link #WINDOW} while idle, as a percentage of one CPU. */
    static double percentOfOneCpu(String transport) throws Exception {
        try (BenchPair pair = BenchPair.start(transport, "process", true);
                Exchange client = pair.connect()) {
            byte[] message = new byte[64];
            for (int i = 0; i < 10_000; i++) {
                client.call(message); // warm, then leave it idle
            }
            Thread.sleep(SETTLE.toMillis());
            long before = cpuNanos(pair);
            long start = System.nanoTime();
            Thread.sleep(WINDOW.toMillis());
            long used = cpuNanos(pair) - before;
            return 100.0 * used / (System.nanoTime() - start);
        }
    }

    private static long cpuNanos(BenchPair pair) {
        long server = pair.serverProcess()
                .flatMap(process -> process.info().totalCpuDuration())
                .map(Duration::toNanos)
                .orElse(0L);
        long self = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        return server + self;
    }

    /** The Markdown lines for the results. */
    static String table(String[] transports) throws Exception {
        StringBuilder out = new StringBuilder("### Idle: a connected pair doing nothing\n\n"
                + "| transport | CPU of client and server processes, % of one CPU |\n|---|---:|\n");
        for (String transport : transports) {
            out.append(String.format(Locale.ROOT, "| %s | %.2f%% |%n", transport, percentOfOneCpu(transport)));
        }
        return out.append("\nMeasured over ")
                .append(WINDOW.toSeconds())
                .append(" s, three seconds after the last of 10,000 round trips; both JVMs' own background work"
                        + " (compilers, collector) counts too.\n\n")
                .toString();
    }
}
