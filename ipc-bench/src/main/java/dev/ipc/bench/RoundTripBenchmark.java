package dev.ipc.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Ping-pong latency: one message out, its echo back, for each transport and size, with the server in another process or
 * on a thread of the benchmark's JVM. {@code raw-*} is the same exchange on a JDK channel with hand-written framing, so
 * the library's own overhead is the ratio of the two.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class RoundTripBenchmark extends ClientServerState {

    @Override
    boolean echo() {
        return true;
    }

    @Benchmark
    public byte[] roundTrip() throws Exception {
        return Exchange.echoed(client.call(message), message);
    }
}
