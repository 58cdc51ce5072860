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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Eight clients, each with its own connection, making round trips against one server: round trips per second in all.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Threads(8)
public class ConcurrentClientsBenchmark {

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
        "grpc-unix"
    })
    public String transport;

    @Param({"64", "1024", "65536", "1048576"})
    public int size;

    @Param({"process", "thread"})
    public String server;

    BenchPair pair;

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, true);
    }

    @TearDown
    public void stop() throws Exception {
        try {
            pair.checkServer();
        } finally {
            pair.close();
        }
    }

    /** One client's connection. */
    @State(Scope.Thread)
    public static class Client {
        Exchange exchange;
        byte[] message;

        @Setup
        public void connect(ConcurrentClientsBenchmark benchmark) throws Exception {
            exchange = benchmark.pair.connect();
            message = new byte[benchmark.size];
        }

        @TearDown
        public void close() throws Exception {
            exchange.close();
        }
    }

    @Benchmark
    public byte[] roundTrip(Client client) throws Exception {
        return Exchange.echoed(client.exchange.call(client.message), client.message);
    }
}
