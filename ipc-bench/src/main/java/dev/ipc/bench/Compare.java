package dev.ipc.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code ./benchmark --compare OLD NEW}: each case's figure in two result folders, the ratio of the new cost to the
 * old, and a flag where the change is wider than the run-to-run spread (the larger of the two runs' spreads between
 * iterations, and at least 5 %). Reads the {@code cases.tsv} every run writes.
 */
final class Compare {

    private Compare() {}

    /**
     * One case per line: benchmark, transport, size, callers, cost (µs p50 or seconds per message), spread, failure.
     */
    static String write(List<Runner.Measured> measured) {
        StringBuilder out = new StringBuilder("benchmark\ttransport\tsize\tcallers\tcost\tspread\tfailure\n");
        for (Runner.Measured m : measured) {
            out.append(String.format(
                    Locale.ROOT,
                    "%s\t%s\t%d\t%d\t%s\t%s\t%s%n",
                    m.benchmark,
                    m.transport,
                    m.size,
                    m.callers,
                    m.failure == null ? String.valueOf(m.cost()) : "NaN",
                    m.spread,
                    m.failure == null ? "" : m.failure));
        }
        return out.toString();
    }

    private static Map<String, String[]> read(Path folder) throws IOException {
        Path file = folder.resolve("cases.tsv");
        if (!Files.isRegularFile(file)) {
            throw new IOException(folder + " holds no cases.tsv: is it a results folder of ./benchmark?");
        }
        Map<String, String[]> cases = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split("\t", -1);
            cases.put(
                    f[0] + " " + f[1] + " " + Runner.sizeName(Integer.parseInt(f[2]))
                            + (f[3].equals("0") ? "" : " " + f[3] + " callers"),
                    f);
        }
        return cases;
    }

    static String compare(Path older, Path newer) throws IOException {
        Map<String, String[]> before = read(older);
        Map<String, String[]> after = read(newer);
        StringBuilder out = new StringBuilder(
                String.format("| case | old | new | new/old cost | spread | |%n|---|---:|---:|---:|---:|---|%n"));
        int flagged = 0;
        for (Map.Entry<String, String[]> entry : after.entrySet()) {
            String[] now = entry.getValue();
            String[] then = before.get(entry.getKey());
            if (then == null) {
                out.append("| ")
                        .append(entry.getKey())
                        .append(" | – | ")
                        .append(figure(now))
                        .append(" | | | new |\n");
                continue;
            }
            double oldCost = Double.parseDouble(then[4]);
            double newCost = Double.parseDouble(now[4]);
            if (Double.isNaN(oldCost) || Double.isNaN(newCost)) {
                out.append("| ")
                        .append(entry.getKey())
                        .append(" | ")
                        .append(figure(then))
                        .append(" | ");
                out.append(figure(now)).append(" | | | failed |\n");
                flagged++;
                continue;
            }
            double spread = Math.max(0.05, Math.max(number(then[5]), number(now[5])));
            double ratio = newCost / oldCost;
            String flag = ratio > 1 + spread ? "**slower**" : ratio < 1 / (1 + spread) ? "faster" : "";
            if (!flag.isEmpty()) {
                flagged++;
            }
            out.append(String.format(
                    Locale.ROOT,
                    "| %s | %s | %s | %.2fx | %.0f%% | %s |%n",
                    entry.getKey(),
                    figure(then),
                    figure(now),
                    ratio,
                    spread * 100,
                    flag));
        }
        out.append(String.format(
                Locale.ROOT,
                "%n%d of %d cases changed beyond the run-to-run spread (cost: time per round trip or per message; "
                        + "above 1.00x is slower).%n",
                flagged,
                after.size()));
        return out.toString();
    }

    private static double number(String text) {
        double value = text.isEmpty() ? Double.NaN : Double.parseDouble(text);
        return Double.isNaN(value) ? 0 : value;
    }

    private static String figure(String[] row) {
        if (!row[6].isEmpty()) {
            return "failed";
        }
        double cost = Double.parseDouble(row[4]);
        boolean latency = Runner.isLatency(row[0]);
        return latency ? String.format(Locale.ROOT, "%.1f µs", cost) : String.format(Locale.ROOT, "%,.0f/s", 1 / cost);
    }
}
