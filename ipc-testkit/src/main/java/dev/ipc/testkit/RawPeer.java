package dev.ipc.testkit;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import java.nio.ByteBuffer;

/**
 * A client in a second process that dies mid-frame: says hello, sends the first half of a request frame, prints
 * {@code SENT}, and waits to be killed.
 */
public final class RawPeer {

    private RawPeer() {}

    /** Runs the client. */
    public static void main(String[] args) throws Exception {
        Connection connection = Ipc.connect(Endpoint.parse(args[0]));
        connection.send(new byte[] {1, 0x49, 0x50, 0x43, 0, 1});
        connection.receive();
        byte[] frame = ByteBuffer.allocate(4 + 5 + 1000)
                .putInt(5 + 1000)
                .put((byte) 3)
                .putInt(7)
                .array();
        connection.output().write(frame, 0, 500);
        System.out.println("SENT");
        System.out.flush();
        System.in.read();
    }
}
