package dev.ipc.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ipc}: a tool to poke a socket with, measure it, and find out why a connection fails.
 *
 * <p>Exit codes: 0 done, 1 failure (one line on stderr that names the cause; a stack trace only with
 * {@code --verbose}), 2 usage error (a bad option or endpoint string).
 */
@Command(
        name = "ipc",
        mixinStandardHelpOptions = true,
        version = "ipc 0.1.0",
        description = "Serves, calls, pings and diagnoses ipc endpoints (unix:/path, unix:@name, tcp://host:port, "
                + "tls://host:port, and the datagram endpoints udp://host:port and unixgram:/path, with options in "
                + "the query), and runs the benchmark comparison.",
        subcommands = {Serve.class, Call.class, Ping.class, Doctor.class, Bench.class},
        exitCodeOnInvalidInput = 2)
public final class Main implements Runnable {

    /** Exit code: done. */
    static final int OK = 0;
    /** Exit code: something failed; the message says what. */
    static final int FAILURE = 1;
    /** Exit code: the command line was wrong. */
    static final int USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--verbose",
            description = "print stack traces, and the library's debug log",
            scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    public static void main(String[] args) {
        boolean verbose = Arrays.asList(args).contains("--verbose");
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "debug" : "warn");
        }
        System.exit(run(args));
    }

    /** Runs a command line; returns the exit code. */
    static int run(String... args) {
        CommandLine line = new CommandLine(new Main());
        line.setExecutionExceptionHandler((e, command, parsed) -> {
            Main root = command.getCommandSpec().root().commandLine().getCommand();
            PrintWriter err = command.getErr();
            if (root.verbose) {
                e.printStackTrace(err);
            }
            err.println("ipc " + command.getCommandName() + ": " + describe(e));
            err.flush();
            return e instanceof IllegalArgumentException ? USAGE : FAILURE;
        });
        return line.execute(args);
    }

    /** One line that names the cause. */
    static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return message.replace('\n', ' ');
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(
                spec.commandLine(), "missing a command: serve, call, ping, doctor or bench");
    }
}
