package dev.ipc.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code ipc bench}: the benchmark comparison, run from the repository's {@code ipc-bench} build in a JVM of its own
 * (the tool does not link the benchmarks in).
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = false,
        description = {
            "Runs the benchmark comparison of the transports (the repository's ./benchmark): JMH round "
                    + "trips and streaming over Unix sockets (JDK, junixsocket), TCP loopback and raw channels, with a "
                    + "table and charts. Every argument goes to the runner: ipc bench --help lists them."
        })
final class Bench implements Callable<Integer> {

    @Unmatched
    List<String> arguments = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        String home = System.getProperty("ipc.home");
        if (home == null) {
            throw new IllegalStateException("ipc bench runs from a checkout of the repository: start it with the ipc "
                    + "launcher at its root");
        }
        Path script = Path.of(home, "benchmark");
        if (!Files.isExecutable(script)) {
            throw new IllegalStateException("no benchmark script at " + script);
        }
        List<String> command = new ArrayList<>(List.of(script.toString()));
        command.addAll(arguments);
        Process runner = new ProcessBuilder(command).inheritIO().start();
        return runner.waitFor();
    }
}
