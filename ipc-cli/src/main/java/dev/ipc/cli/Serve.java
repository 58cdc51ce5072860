package dev.ipc.cli;

import dev.ipc.Endpoint;
import dev.ipc.IpcServer;
import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ipc serve}: an echo server, for tests, demos and clients in other languages. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Serves ENDPOINT, answering every request with its own payload, until SIGTERM or Ctrl-C.",
            "Prints the bound endpoint (with the real port for port 0) as its first line, so that a script can read "
                    + "it."
        })
final class Serve implements Callable<Integer> {

    @Parameters(paramLabel = "ENDPOINT", description = "where to listen, e.g. unix:/tmp/a.sock or tcp://127.0.0.1:0")
    String endpoint;

    @Option(
            names = "--echo",
            description = "answer each request with its payload (what serve does; kept for " + "scripts that say so)")
    boolean echo = true;

    @Override
    public Integer call() throws Exception {
        IpcServer server = IpcServer.builder(Endpoint.parse(endpoint))
                .handler(request -> request)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            try {
                                server.close();
                            } catch (IOException e) {
                                System.err.println("ipc serve: closing: " + e.getMessage());
                            }
                            stopped.countDown();
                        },
                        "ipc-serve-shutdown"));
        server.start();
        System.out.println(server.endpoint().withoutParameters());
        System.out.flush();
        stopped.await();
        return Main.OK;
    }
}
