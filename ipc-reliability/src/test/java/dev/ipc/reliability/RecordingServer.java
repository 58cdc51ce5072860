package dev.ipc.reliability;

import dev.ipc.Endpoint;
import dev.ipc.IpcServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A server for a second process: echoes every request and appends it, with a line break, to the log file in its second
 * argument before answering, so that a test can tell which requests ran, even after the process was killed. Prints
 * {@code READY <endpoint>} and runs until killed.
 */
public final class RecordingServer {

    private RecordingServer() {}

    public static void main(String[] args) throws Exception {
        FileChannel log = FileChannel.open(
                Path.of(args[1]), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        IpcServer server = IpcServer.builder(Endpoint.parse(args[0]))
                .handler(request -> {
                    ByteBuffer line = ByteBuffer.allocate(request.length + 1)
                            .put(request)
                            .put((byte) '\n')
                            .flip();
                    synchronized (log) {
                        while (line.hasRemaining()) {
                            log.write(line); // one write(2) with O_APPEND: a kill -9 keeps it or not, never half of it
                        }
                    }
                    return request;
                })
                .build()
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.close(); // on SIGTERM: the socket file goes too
            } catch (IOException e) {
                System.err.println("closing: " + e);
            }
        }));
        System.out.println("READY " + server.endpoint());
        System.out.flush();
        server.serve();
    }
}
