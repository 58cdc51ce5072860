package dev.ipc.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One-way streaming: messages sent as fast as the server drains them, in messages per second (bytes per second is that
 * times the size). The socket buffers hold at most a few hundred kilobytes, so the rate measured over seconds is the
 * rate the server consumes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class StreamingBenchmark extends ClientServerState {

    @Override
    boolean echo() {
        return false;
    }

    @Benchmark
    public void send() throws Exception {
        client.send(message);
        sent(1);
    }

    /**
     * Four threads sending on one connection: where the library's write queue lets one system call carry many messages
     * (the raw exchange writes each message on its own, under a lock).
     */
    @Benchmark
    @Threads(4)
    public void sendFromFourThreads() throws Exception {
        client.send(message);
        sent(1);
    }

    /** Messages in a burst of {@link #writeBursts()}. */
    static final int BURST = 64;

    /**
     * One thread writing bursts of {@value #BURST} messages and flushing after each: how a stream of small messages
     * (telemetry, logs) is written when the sender need not push each one at once. The library's {@code write} and
     * {@code flush}, Netty's {@code write} and {@code flush}, the raw channel's buffer written when full or flushed.
     */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public void writeBursts() throws Exception {
        for (int i = 0; i < BURST; i++) {
            client.write(message);
        }
        client.flush();
        sent(BURST);
    }

    /** {@link #writeBursts()} from four threads on one connection. */
    @Benchmark
    @Threads(4)
    @OperationsPerInvocation(BURST)
    public void writeBurstsFromFourThreads() throws Exception {
        writeBursts();
    }
}
