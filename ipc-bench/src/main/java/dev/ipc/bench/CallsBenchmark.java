package dev.ipc.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Calls per second on one client shared by many callers (JMH's threads: the runner runs 1, 16 and 128): the library's
 * {@code IpcClient.call} to an {@code IpcServer} echo, beside gRPC's unary call on one channel. Each caller waits for
 * its reply before it calls again, so the callers are the calls in flight.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class CallsBenchmark {

    @Param({"call-unix", "call-tcp", "direct-unix", "grpc-unix"})
    public String transport;

    @Param({"64"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    BenchPair pair;
    Exchange client;
    byte[] message;

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, true);
        client = pair.connect();
        message = new byte[size];
        Exchange.warm(transport, client, message);
    }

    @TearDown
    public void stop() throws Exception {
        try {
            pair.checkServer();
        } finally {
            client.close();
            pair.close();
        }
    }

    @Benchmark
    public byte[] call() throws Exception {
        return Exchange.echoed(client.call(message), message);
    }
}
