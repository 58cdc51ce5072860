package dev.ipc.testkit;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import java.io.PrintStream;

/**
 * The second process of the cross-process tests: listens on the endpoint in its first argument, prints {@code READY
 * <bound endpoint>} on its first line, echoes every message of one connection, prints {@code DONE} and exits 0; on
 * failure it prints the error on stderr and exits 1.
 */
public final class EchoPeer {

    private EchoPeer() {}

    /** Runs the peer. */
    public static void main(String[] args) {
        PrintStream out = System.out;
        try (Listener listener = Ipc.listen(Endpoint.parse(args[0]))) {
            out.println("READY " + listener.endpoint());
            out.flush();
            try (Connection connection = listener.accept()) {
                out.println("PEER " + connection.peer());
                for (byte[] message = connection.receive(); message != null; message = connection.receive()) {
                    connection.send(message);
                }
            }
            out.println("DONE");
        } catch (Exception e) {
            System.err.println("EchoPeer failed: " + e);
            System.exit(1);
        }
        System.exit(0);
    }
}
