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

/** Connection setup: connect, one 64-byte round trip, close, against a server already listening. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class ConnectBenchmark {

    @Param({"unix-jdk", "unix-junixsocket", "shm", "tcp", "raw-unix", "raw-tcp"})
    public String transport;

    @Param({"64"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    private BenchPair pair;
    private byte[] message;

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, true);
        message = new byte[size];
    }

    @Benchmark
    public byte[] connectAndRoundTrip() throws Exception {
        try (Exchange client = pair.connect()) {
            return Exchange.echoed(client.call(message), message);
        }
    }

    @TearDown
    public void stop() throws Exception {
        try {
            pair.checkServer();
        } finally {
            pair.close();
        }
    }
}
