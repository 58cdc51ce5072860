package dev.ipc.bench;

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
        "tcp",
        "raw-unix",
        "raw-tcp",
        "call-unix",
        "call-tcp",
        "direct-unix",
        "netty-unix",
        "netty-tcp",
        "grpc-unix"
    })
    public String transport;

    @Param({"64", "1024", "65536", "1048576"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    BenchPair pair;
    Exchange client;
    byte[] message;

    /** Whether the server echoes each message (round trips) or drains them (streaming). */
    abstract boolean echo();

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, echo());
        client = pair.connect();
        message = new byte[size];
        if (echo()) {
            Exchange.warm(client, message);
        }
    }

    @TearDown
    public void stop() throws Exception {
        client.close();
        pair.close();
    }
}
