package dev.ipc.testkit;

import dev.ipc.Endpoint;
import dev.ipc.IpcServer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * A server in a second process for the runtime tests: serves the endpoint in its first argument, echoing every request
 * except {@code hang}, which it never answers; prints {@code READY <endpoint>} and runs until killed.
 */
public final class ServerPeer {

    private ServerPeer() {}

    /** Runs the server. */
    public static void main(String[] args) throws Exception {
        byte[] hang = "hang".getBytes(StandardCharsets.UTF_8);
        IpcServer server = IpcServer.builder(Endpoint.parse(args[0]))
                .asyncHandler(request -> Arrays.equals(request, hang)
                        ? new CompletableFuture<>()
                        : CompletableFuture.completedFuture(request))
                .build()
                .start();
        System.out.println("READY " + server.endpoint());
        System.out.flush();
        server.serve();
    }
}
