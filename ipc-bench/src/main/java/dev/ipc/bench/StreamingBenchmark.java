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
 * One-way streaming: messages sent as fast as the server drains them, in messages per second (bytes
 * per second is that times the size). The socket buffers hold at most a few hundred kilobytes, so the
 * rate measured over seconds is the rate the server consumes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class StreamingBenchmark {

    @Param({"unix-jdk", "unix-junixsocket", "tcp", "raw-unix", "raw-tcp"})
    public String transport;

    @Param({"64", "1024", "65536", "1048576"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    private BenchPair pair;
    private Exchange client;
    private byte[] message;

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, false);
        client = pair.connect();
        message = new byte[size];
    }

    @Benchmark
    public void send() throws Exception {
        client.send(message);
    }

    /**
     * Four threads sending on one connection: where the library's write queue lets one system call
     * carry many messages (the raw exchange writes each message on its own, under a lock).
     */
    @Benchmark
    @org.openjdk.jmh.annotations.Threads(4)
    public void sendFromFourThreads() throws Exception {
        client.send(message);
    }

    @TearDown
    public void stop() throws Exception {
        client.close();
        pair.close();
    }
}
