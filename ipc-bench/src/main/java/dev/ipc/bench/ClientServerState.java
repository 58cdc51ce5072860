package dev.ipc.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the one-connection benchmarks share: the transport, size and server placement, a server started for the trial,
 * and one client connected to it.
 */
@State(Scope.Benchmark)
public abstract class ClientServerState {

    @Param({
        "unix-jdk",
        "unix-junixsocket",
        "shm",
        "tcp",
        "raw-unix",
        "raw-tcp",
        "call-unix",
        "call-tcp",
        "direct-unix",
        "netty-unix",
        "netty-tcp",
        "grpc-unix",
        "udp",
        "unixgram",
        "raw-udp",
        "raw-unixgram"
    })
    public String transport;

    @Param({"64", "1024", "65536", "1048576"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    BenchPair pair;
    Exchange client;
    byte[] message;
    /** Messages sent in the trial, counted by the streaming benchmarks, for a datagram case's losses. */
    long sent;

    /** Whether the server echoes each message (round trips) or drains them (streaming). */
    abstract boolean echo();

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, echo(), size);
        client = pair.connect();
        message = new byte[size];
        if (echo()) {
            Exchange.warm(client, message);
        }
    }

    /**
     * Stops the client and the server; for a datagram stream, first appends {@code transport size sent received} to the
     * file the system property {@code ipc.bench.losses} names, where the runner reads the losses.
     */
    @TearDown
    public void stop() throws Exception {
        String losses = System.getProperty("ipc.bench.losses");
        if (!echo() && pair.isDatagram() && losses != null) {
            long received = pair.received();
            Files.writeString(
                    Path.of(losses),
                    transport + " " + size + " " + sent + " " + received + "\n",
                    StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        }
        client.close();
        pair.close();
    }
}
