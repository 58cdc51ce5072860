package dev.ipc.cli;

import dev.ipc.Datagram;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcServer;
import java.io.IOException;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ipc serve}: an echo server, for tests, demos and clients in other languages. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Serves ENDPOINT, answering every request with its own payload, until SIGTERM or Ctrl-C.",
            "Prints the bound endpoint (with the real port for port 0, and its query) as its first line, so that a "
                    + "script can read it and hand it to ipc call. Exits 0 after a graceful stop.",
            "On a datagram endpoint (udp://host:port, unixgram:/path, unixgram:@name?access=anyone) it sends each "
                    + "datagram back to its sender; one from an unbound socket, which has no address, is noted on "
                    + "stderr."
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
        Endpoint target = Endpoint.parse(endpoint);
        if (target.isDatagram()) {
            return echoDatagrams(target);
        }
        IpcServer server = IpcServer.builder(target).handler(request -> request).build();
        // A signal starts the JVM's shutdown, whose exit status is 128 + the signal's number; a graceful stop is this
        // command's success, so the hook ends the JVM itself once the server has closed (a close during start() waits
        // for it, then undoes it). An exit for a failure to start keeps its own status.
        AtomicBoolean startFailed = new AtomicBoolean();
        closeOnSignal(server, startFailed);
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            startFailed.set(true);
            throw e;
        }
        // With its query: secrets and key passwords are named by file or variable there, never given by value, so the
        // line is safe to print and a client can use it as it is.
        System.out.println(server.endpoint());
        System.out.flush();
        server.serve(); // until the hook closes it
        return Main.OK;
    }

    /**
     * Closes {@code served} when a signal starts the JVM's shutdown, then ends the JVM with this command's status: 0
     * for the graceful stop, 1 if closing failed; nothing when {@code startFailed} says there is nothing to stop.
     */
    private static void closeOnSignal(AutoCloseable served, AtomicBoolean startFailed) {
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            if (startFailed.get()) {
                                return;
                            }
                            int status = Main.OK;
                            try {
                                served.close();
                            } catch (Exception e) {
                                System.err.println("ipc serve: closing: " + e.getMessage());
                                status = Main.FAILURE;
                            }
                            System.out.flush();
                            System.err.flush();
                            Runtime.getRuntime().halt(status);
                        },
                        "ipc-serve-shutdown"));
    }

    /**
     * The datagram echo: each datagram back to its sender, until a signal closes the socket. A reply whose receiver is
     * full (a Unix datagram socket that does not read) is dropped at once rather than waited for, so one sender that
     * never reads stops no other sender's echo; a {@code sendTimeout} in the endpoint waits that long instead.
     */
    private static int echoDatagrams(Endpoint target) throws IOException {
        DatagramSocket socket = Ipc.bindDatagram(
                target,
                DatagramOptions.builder()
                        .set(DatagramOptions.SEND_TIMEOUT, Duration.ofNanos(1)) // a full receiver fails at once
                        .build());
        long dropped = 0;
        long droppedSaid = System.nanoTime() - TimeUnit.SECONDS.toNanos(2);
        closeOnSignal(socket, new AtomicBoolean());
        System.out.println(socket.localEndpoint());
        System.out.flush();
        while (socket.isOpen()) {
            Datagram datagram;
            try {
                datagram = socket.receive();
            } catch (ProtocolException e) {
                System.err.println("ipc serve: " + e.getMessage());
                continue;
            } catch (IOException e) {
                if (!socket.isOpen()) {
                    break; // the hook closed it
                }
                throw e;
            }
            if (datagram.sender().isEmpty()) {
                System.err.println("ipc serve: a datagram of " + datagram.length()
                        + " bytes from an unbound socket: it has no address to echo to");
                continue;
            }
            try {
                socket.send(datagram.sender().get(), datagram.payload());
            } catch (SocketTimeoutException e) {
                dropped++; // its receiver is full: said at most once a second, as a sender may cause it at any rate
                if (System.nanoTime() - droppedSaid > TimeUnit.SECONDS.toNanos(1)) {
                    System.err.println("ipc serve: dropped " + dropped + " echoes to receivers that were full, the "
                            + "last to " + datagram.sender().get() + " (it does not read its socket)");
                    dropped = 0;
                    droppedSaid = System.nanoTime();
                }
            } catch (IOException e) {
                if (!socket.isOpen()) {
                    break;
                }
                System.err.println("ipc serve: " + e.getMessage()); // one sender gone; the others are served on
            }
        }
        return Main.OK;
    }
}
