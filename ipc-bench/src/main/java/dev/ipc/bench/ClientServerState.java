package dev.ipc.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.LongAdder;
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
    /** Messages sent in the trial (warm-up included), to be checked against what the server counted. */
    final LongAdder sent = new LongAdder();

    private static final boolean THROW = Tally.FAULT.equals("throw");

    /** Whether the server echoes each message (round trips) or drains them (streaming). */
    abstract boolean echo();

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, echo(), size);
        client = pair.connect();
        message = new byte[size];
        if (echo()) {
            Exchange.warm(transport, client, message);
        }
    }

    /** Counts {@code n} messages sent; with {@code ipc.bench.fault=throw}, fails once a thousand are. */
    final void sent(int n) throws IOException {
        sent.add(n);
        if (THROW && sent.sum() > 1000) {
            throw new IOException("a fault injected by ipc.bench.fault=throw");
        }
    }

    /**
     * Checks what the server counted, then stops the client and the server. A stream's server must have received every
     * message sent; a datagram server at most as many, and its count is appended as {@code transport size sent
     * received} to the file the system property {@code ipc.bench.losses} names, where the runner reads the losses. An
     * error the server met fails the case too.
     */
    @TearDown
    public void stop() throws Exception {
        try {
            BenchPair.Count count;
            if (echo()) {
                count = pair.count();
            } else {
                long expected = client.finish(sent.sum()); // Netty's event loop wrote what it counts itself

                count = pair.awaitCount(expected);
                if (pair.isDatagram()) {
                    String losses = System.getProperty("ipc.bench.losses");
                    if (losses != null) {
                        Files.writeString(
                                Path.of(losses),
                                transport + " " + size + " " + expected + " " + count.received() + "\n",
                                StandardCharsets.UTF_8,
                                StandardOpenOption.CREATE,
                                StandardOpenOption.APPEND);
                    }
                    if (count.received() > expected || count.received() == 0) {
                        throw new IllegalStateException(
                                "the server counted " + count.received() + " datagrams of " + expected + " sent");
                    }
                } else if (count.received() != expected) {
                    throw new IllegalStateException(
                            "the server received " + count.received() + " of the " + expected + " messages sent");
                }
            }
            if (count.error() != null) {
                throw new IllegalStateException("the server failed: " + count.error());
            }
        } finally {
            try {
                client.close();
            } finally {
                pair.close();
            }
        }
    }
}
