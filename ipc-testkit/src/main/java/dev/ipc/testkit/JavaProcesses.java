package dev.ipc.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Second JVMs for the tests that need a real second process: the command that starts one, and reaping it. */
public final class JavaProcesses {

    private JavaProcesses() {}

    /** The {@code java} of the running JVM. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * The command that runs {@code mainClass} with this JVM's class path; on JDK 24 and later it lets junixsocket load
     * its native code without a warning.
     */
    public static List<String> command(String mainClass, String... args) {
        return command(List.of(), mainClass, args);
    }

    /** As {@link #command(String, String...)}, with options for the JVM ({@code -Xmx64m}, say). */
    public static List<String> command(List<String> jvmOptions, String mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(java());
        if (Runtime.version().feature() >= 24) {
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        command.addAll(List.of(args));
        return command;
    }

    /** Kills the process if it still runs, waits for it, and closes its pipes. */
    public static void reap(Process process) throws InterruptedException, IOException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
        process.getInputStream().close();
        process.getErrorStream().close();
        process.getOutputStream().close();
    }
}
