package dev.ipc.examples;

import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.StreamingCall;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kv}: the command-line client of {@code kvd}, on the endpoint in {@code KV_ENDPOINT} (or {@code --endpoint}).
 * Exit codes: 0 done, 1 no such key or a failure (one line on stderr), 2 usage.
 */
@Command(
        name = "kv",
        mixinStandardHelpOptions = true,
        version = "kv 0.1.0",
        description = "Gets, puts, deletes, lists and watches keys in kvd, on the endpoint in KV_ENDPOINT.",
        subcommands = {
            KvClient.Get.class,
            KvClient.Put.class,
            KvClient.Del.class,
            KvClient.ListKeys.class,
            KvClient.Watch.class
        },
        exitCodeOnInvalidInput = 2)
public final class KvClient implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--endpoint",
            description = "the daemon's endpoint (default: $KV_ENDPOINT, else the runtime " + "socket of kvd)",
            scope = CommandLine.ScopeType.INHERIT)
    String endpoint;

    @Option(names = "--verbose", description = "print stack traces", scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    public static void main(String[] args) {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        System.exit(run(args));
    }

    /** Runs the command line; returns the exit code. */
    static int run(String[] args) {
        PrintStream err = System.err;
        CommandLine line = new CommandLine(new KvClient());
        line.setExecutionExceptionHandler((e, command, parsed) -> {
            KvClient root = command.getCommandSpec().root().commandLine().getCommand();
            if (root.verbose) {
                e.printStackTrace(err);
            }
            err.println("kv: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return e instanceof IllegalArgumentException ? 2 : 1;
        });
        return line.execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing a command: get, put, del, list or watch");
    }

    /** The endpoint from {@code KV_ENDPOINT}, else the runtime socket of {@code app}. */
    static Endpoint endpoint(String app) {
        String configured = System.getenv("KV_ENDPOINT");
        return configured == null || configured.isBlank() ? Endpoint.runtime(app) : Endpoint.parse(configured);
    }

    private Endpoint target(String key) {
        if (key != null && !KvStore.isKey(key)) {
            throw new IllegalArgumentException("a key has no spaces or line breaks, was '" + key + "'");
        }
        return endpoint == null ? endpoint("kvd") : Endpoint.parse(endpoint);
    }

    /**
     * Prints each change under {@code prefix} as it happens, one line each ({@code put KEY VALUE}, the value's line
     * breaks written as {@code \n}, or {@code del KEY}), until the daemon stops or this process is ended.
     */
    void watch(String prefix, PrintStream out, PrintStream err) throws IOException {
        Endpoint target = target(prefix);
        try (IpcClient client = IpcClient.connect(target);
                StreamingCall changes = client.stream(KvStore.request("watch", prefix, null))) {
            for (byte[] change : changes) {
                String text = new String(change, StandardCharsets.UTF_8);
                if (text.startsWith("watching")) {
                    err.println("kv: " + text + (prefix == null ? "(every key)" : "") + " on " + target);
                    err.flush();
                    continue;
                }
                int newline = text.indexOf('\n');
                out.println(
                        newline < 0
                                ? text
                                : text.substring(0, newline) + " "
                                        + text.substring(newline + 1).replace("\n", "\\n"));
                out.flush();
            }
        } catch (UncheckedIOException e) {
            throw e.getCause(); // the stream's end with an error: the daemon stopped, or this watcher fell behind
        }
    }

    byte[] call(String command, String key, byte[] value, PrintStream out) throws IOException {
        Endpoint target = target(key);
        try (IpcClient client = IpcClient.connect(target)) {
            byte[] reply = client.call(KvStore.request(command, key, value));
            byte[] data = Arrays.copyOfRange(reply, 1, reply.length);
            if (reply[0] == KvStore.NOT_FOUND) {
                throw new NotFound(new String(data, StandardCharsets.UTF_8));
            }
            if (reply[0] != KvStore.OK) {
                throw new IOException(new String(data, StandardCharsets.UTF_8));
            }
            out.write(data);
            out.flush();
            return data;
        }
    }

    /** A key that is not there: exit code 1, like grep's "not found". */
    static final class NotFound extends IOException {
        private static final long serialVersionUID = 1L;

        NotFound(String message) {
            super(message);
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Prints the value of KEY.")
    static final class Get implements Callable<Integer> {
        @CommandLine.ParentCommand
        KvClient kv;

        @Parameters(paramLabel = "KEY")
        String key;

        @Override
        public Integer call() throws IOException {
            kv.call("get", key, null, System.out);
            return 0;
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true, description = "Sets KEY to VALUE, or to stdin with -.")
    static final class Put implements Callable<Integer> {
        @CommandLine.ParentCommand
        KvClient kv;

        @Parameters(index = "0", paramLabel = "KEY")
        String key;

        @Parameters(index = "1", paramLabel = "VALUE", description = "the value, or - to read it from stdin")
        String value;

        @Override
        public Integer call() throws IOException {
            byte[] bytes = "-".equals(value) ? System.in.readAllBytes() : value.getBytes(StandardCharsets.UTF_8);
            kv.call("put", key, bytes, System.out);
            return 0;
        }
    }

    @Command(name = "del", mixinStandardHelpOptions = true, description = "Deletes KEY.")
    static final class Del implements Callable<Integer> {
        @CommandLine.ParentCommand
        KvClient kv;

        @Parameters(paramLabel = "KEY")
        String key;

        @Override
        public Integer call() throws IOException {
            kv.call("del", key, null, System.out);
            return 0;
        }
    }

    @Command(
            name = "watch",
            mixinStandardHelpOptions = true,
            description = "Prints each change (put KEY VALUE, del KEY) as it happens, until stopped.")
    static final class Watch implements Callable<Integer> {
        @CommandLine.ParentCommand
        KvClient kv;

        @Parameters(paramLabel = "PREFIX", arity = "0..1", description = "only keys that start with it")
        String prefix;

        @Override
        public Integer call() throws IOException {
            kv.watch(prefix, System.out, System.err);
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists the keys, one per line.")
    static final class ListKeys implements Callable<Integer> {
        @CommandLine.ParentCommand
        KvClient kv;

        @Parameters(paramLabel = "PREFIX", arity = "0..1", description = "only keys that start with it")
        String prefix;

        @Override
        public Integer call() throws IOException {
            kv.call("list", prefix, null, System.out);
            return 0;
        }
    }
}
