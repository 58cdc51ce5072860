package dev.ipc.bench;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
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
 * Calls per second through an asynchronous call on one client, from one thread that keeps {@code inFlight} calls
 * outstanding (the runner runs 16 and 128): each operation waits for the oldest call's reply and makes a new call in
 * its place. The library's {@code IpcClient.callAsync} to an {@code IpcServer} echo, beside gRPC's async stub (a unary
 * call with a {@code StreamObserver}) on one channel; the calls case's 16 and 128 callers of a blocking call are the
 * same number of calls in flight.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class AsyncCallsBenchmark {

    @Param({"call-unix", "grpc-unix"})
    public String transport;

    @Param({"64"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    @Param({"16", "128"})
    public int inFlight;

    BenchPair pair;
    Exchange client;
    byte[] message;
    final ArrayDeque<CompletableFuture<byte[]>> window = new ArrayDeque<>();

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, true);
        client = pair.connect();
        message = new byte[size];
        Exchange.warm(transport, client, message);
        for (int i = 0; i < inFlight; i++) {
            window.add(client.callAsync(message));
        }
    }

    @TearDown
    public void stop() throws Exception {
        try {
            for (CompletableFuture<byte[]> call : window) {
                Exchange.echoed(call.get(30, TimeUnit.SECONDS), message);
            }
            window.clear();
            pair.checkServer();
        } finally {
            client.close();
            pair.close();
        }
    }

    @Benchmark
    public byte[] callAsync() throws Exception {
        byte[] reply = Exchange.echoed(window.poll().get(30, TimeUnit.SECONDS), message);
        window.add(client.callAsync(message));
        return reply;
    }
}
