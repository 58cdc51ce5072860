package dev.ipc.unix;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import java.io.IOException;
import java.io.PrintStream;

/**
 * The second process of the shared-memory death tests: {@code serve ENDPOINT} listens, prints {@code READY <endpoint>}
 * and streams messages to the first client until killed; {@code connect ENDPOINT} connects and streams until killed.
 */
public final class SharedMemoryPeer {

    private SharedMemoryPeer() {}

    /** Runs the peer. */
    public static void main(String[] args) throws IOException {
        PrintStream out = System.out;
        Endpoint endpoint = Endpoint.parse(args[1]);
        if (args[0].equals("serve")) {
            try (Listener listener = Ipc.listen(endpoint)) {
                out.println("READY " + listener.endpoint());
                out.flush();
                try (Connection connection = listener.accept()) {
                    stream(connection);
                }
            }
        } else {
            try (Connection connection = Ipc.connect(endpoint)) {
                stream(connection);
            }
        }
    }

    private static void stream(Connection connection) throws IOException {
        byte[] message = new byte[256];
        while (true) {
            connection.write(message);
            connection.flush();
        }
    }
}
