package dev.ipc.bench.alone;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/** What the stand-alone programs share: a server in a second process, asked for its count over its standard input. */
final class Alone {

    private Alone() {}

    /**
     * In the server's process: prints READY, then answers each line COUNT with the count, until standard input ends.
     */
    static void serveCommands(LongSupplier count) throws IOException {
        System.out.println("READY");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            System.out.println(count.getAsLong());
            System.out.flush();
        }
    }

    /** The server's process, seen from the client. */
    static final class Server implements AutoCloseable {
        private final Process process;
        private final BufferedReader out;

        private Server(Process process) {
            this.process = process;
            this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        }

        /** Starts {@code command} and waits for its READY. */
        static Server start(String... command) throws IOException {
            Server server = new Server(new ProcessBuilder(List.of(command))
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start());
            String ready = server.out.readLine();
            if (ready == null || !ready.startsWith("READY")) {
                server.process.destroyForcibly();
                throw new IOException("the server did not start: " + ready);
            }
            return server;
        }

        /** The messages the server has received so far. */
        long count() throws IOException {
            process.getOutputStream().write("COUNT\n".getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().flush();
            String line = out.readLine().trim();
            return Long.parseLong(line.substring(line.lastIndexOf(' ') + 1));
        }

        @Override
        public void close() throws Exception {
            process.getOutputStream().close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
