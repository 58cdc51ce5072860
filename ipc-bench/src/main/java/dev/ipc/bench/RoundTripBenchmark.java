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
 * Ping-pong latency: one message out, its echo back, for each transport and size, with the server in
 * another process or on a thread of the benchmark's JVM. {@code raw-*} is the same exchange on a JDK
 * channel with hand-written framing, so the library's own overhead is the ratio of the two.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class RoundTripBenchmark {

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
        pair = BenchPair.start(transport, server, true);
        client = pair.connect();
        message = new byte[size];
    }

    @Benchmark
    public byte[] roundTrip() throws Exception {
        client.send(message);
        return client.receive();
    }

    @TearDown
    public void stop() throws Exception {
        client.close();
        pair.close();
    }
}
