package dev.ipc.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One finished command: its exit code, standard output and standard error; and the helpers that run a command to its
 * end or read the first line of one that keeps running.
 */
public final class CommandRun {

    /** The exit code. */
    public final int exit;
    /** Everything written to standard output. */
    public final String out;
    /** Everything written to standard error. */
    public final String err;

    private CommandRun(int exit, String out, String err) {
        this.exit = exit;
        this.out = out;
        this.err = err;
    }

    /**
     * Starts {@code builder}, writes {@code input} (if not null) to its standard input and closes it, and waits up to a
     * minute for it to end; always reaps it.
     */
    public static CommandRun of(ProcessBuilder builder, String input) throws Exception {
        Process process = builder.start();
        try {
            CompletableFuture<String> err = Background.call("stderr", () -> read(process.getErrorStream()));
            if (input != null) {
                process.getOutputStream().write(input.getBytes(UTF_8));
            }
            process.getOutputStream().close();
            String out = read(process.getInputStream());
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("did not finish within a minute: " + builder.command());
            }
            return new CommandRun(process.exitValue(), out, err.get(10, TimeUnit.SECONDS));
        } finally {
            JavaProcesses.reap(process);
        }
    }

    /** The first line a running process writes to standard output, or null if it ends first; waits a minute at most. */
    public static String firstLine(Process process) throws Exception {
        BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8));
        return Background.call("stdout", lines::readLine).get(60, TimeUnit.SECONDS);
    }

    /** All of a stream, as UTF-8; a note instead if it can't be read. */
    public static String read(InputStream in) {
        try {
            return new String(in.readAllBytes(), UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    @Override
    public String toString() {
        return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
}
