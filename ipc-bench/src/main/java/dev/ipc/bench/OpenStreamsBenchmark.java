package dev.ipc.bench;

import dev.ipc.IpcClient;
import dev.ipc.StreamingCall;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
 * A plain {@code IpcClient.call}'s latency while other connections hold open streams: 0 or 1,000 watches (ten clients
 * of 100 each) that the server answers from a publisher with nothing to publish, as a daemon's watchers wait for
 * changes. Streams that held a worker each (a handler waiting in {@code ReplyStream.send}) made every plain call wait
 * behind a thousand threads on JDK 17; these hold none, so the two latencies should match.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class OpenStreamsBenchmark {

    /** The streams' clients: a connection takes at most 128 requests in flight, the server's default. */
    private static final int WATCHERS = 10;

    @Param({"call-unix"})
    public String transport;

    @Param({"process"})
    public String server;

    @Param({"0", "1000"})
    public int openStreams;

    BenchPair pair;
    Exchange client;
    byte[] message = new byte[64];
    final List<IpcClient> watchers = new ArrayList<>();
    final List<StreamingCall> streams = new ArrayList<>();

    @Setup
    public void start() throws Exception {
        pair = BenchPair.start(transport, server, true);
        client = pair.connect();
        for (int i = 0; i < WATCHERS && openStreams > 0; i++) {
            IpcClient watcher = IpcClient.connect(pair.endpoint);
            watchers.add(watcher);
            for (int j = 0; j < openStreams / WATCHERS; j++) {
                streams.add(watcher.stream(("watch " + i + "/" + j).getBytes(StandardCharsets.UTF_8)));
            }
        }
        Exchange.warm(transport, client, message);
    }

    @TearDown
    public void stop() throws Exception {
        streams.forEach(StreamingCall::close);
        for (IpcClient watcher : watchers) {
            watcher.close();
        }
        client.close();
        pair.close();
    }

    @Benchmark
    public byte[] callWithStreamsOpen() throws Exception {
        return client.call(message);
    }
}
