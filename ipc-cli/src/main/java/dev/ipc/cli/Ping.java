package dev.ipc.cli;

import dev.ipc.ClientOptions;
import dev.ipc.ConnectionOptions;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import java.io.Closeable;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ipc ping}: round trips, one line each, then the spread. */
@Command(
        name = "ping",
        mixinStandardHelpOptions = true,
        description = {
            "Sends requests of SIZE bytes to ENDPOINT (an echo server such as ipc serve, or any ipc "
                    + "server), one at a time, and prints each round trip, then min/avg/p50/p99/max.",
            "A reply of another length than the request counts as a failure.",
            "On a datagram endpoint (udp://, unixgram:) against a datagram echo such as ipc serve, each request is "
                    + "one datagram numbered in its first bytes; one with no reply within --timeout counts as lost, "
                    + "and a late reply is skipped."
        })
final class Ping implements Callable<Integer> {

    @Parameters(paramLabel = "ENDPOINT", description = "the server's endpoint")
    String endpoint;

    @Option(
            names = {"-c", "--count"},
            paramLabel = "N",
            description = "how many round trips (default: 10)")
    int count = 10;

    @Option(
            names = {"-s", "--size"},
            paramLabel = "SIZE",
            description = "request size in bytes (default: 64)")
    int size = 64;

    @Option(
            names = {"-i", "--interval"},
            paramLabel = "DURATION",
            description = "pause between requests " + "(default: 0)")
    String interval = "0s";

    @Option(
            names = {"-W", "--timeout"},
            paramLabel = "DURATION",
            description = "how long to wait for each reply (default: 5s)")
    String timeout = "5s";

    @Option(
            names = {"-q", "--quiet"},
            description = "print only the summary")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        if (count < 1 || size < 0) {
            throw new IllegalArgumentException(
                    "count must be at least 1 and size at least 0, were " + count + " and " + size);
        }
        Endpoint target = Endpoint.parse(endpoint);
        Duration pause = Durations.parse(interval);
        byte[] request = new byte[size];
        Arrays.fill(request, (byte) 'x');
        long[] nanos = new long[count];
        int received = 0;
        Duration wait = Durations.parse(timeout);
        try (Exchange exchange = target.isDatagram() ? datagrams(target, wait) : calls(target, wait)) {
            try {
                exchange.roundTrip(new byte[Math.max(1, Math.min(size, Long.BYTES))]); // warm before the first timing
            } catch (SocketTimeoutException e) {
                if (!target.isDatagram()) {
                    throw e;
                }
                // A lost warm-up datagram; the timed ones say what is lost.
            }
            for (int i = 0; i < count; i++) {
                if (size >= Long.BYTES) {
                    ByteBuffer.wrap(request).putLong(0, i + 1);
                }
                long start = System.nanoTime();
                byte[] reply;
                try {
                    reply = exchange.roundTrip(request);
                } catch (SocketTimeoutException e) {
                    if (!target.isDatagram()) {
                        throw e;
                    }
                    System.out.printf(Locale.ROOT, "seq=%d: no reply within %s (lost)%n", i + 1, timeout);
                    continue;
                }
                long took = System.nanoTime() - start;
                if (reply.length != size) {
                    System.out.printf(Locale.ROOT, "seq=%d: a reply of %d bytes to %d%n", i + 1, reply.length, size);
                    continue;
                }
                nanos[received++] = took;
                if (!quiet) {
                    System.out.printf(
                            Locale.ROOT,
                            "%d bytes from %s: seq=%d time=%.3f ms%n",
                            reply.length,
                            target.withoutParameters(),
                            i + 1,
                            took / 1e6);
                }
                if (!pause.isZero() && i + 1 < count) {
                    TimeUnit.NANOSECONDS.sleep(pause.toNanos());
                }
            }
        }
        long[] times = Arrays.copyOf(nanos, received);
        Arrays.sort(times);
        System.out.printf(
                Locale.ROOT,
                "--- %s ---%n%d sent, %d received, %d%% lost%n",
                target.withoutParameters(),
                count,
                received,
                (count - received) * 100 / count);
        if (received > 0) {
            double average = Arrays.stream(times).average().orElse(0);
            System.out.printf(
                    Locale.ROOT,
                    "round trip min/avg/p50/p99/max = %.3f/%.3f/%.3f/%.3f/%.3f ms%n",
                    times[0] / 1e6,
                    average / 1e6,
                    percentile(times, 50) / 1e6,
                    percentile(times, 99) / 1e6,
                    times[times.length - 1] / 1e6);
        }
        return received == count ? Main.OK : Main.FAILURE;
    }

    /** One request and its reply, over a connection or as datagrams. */
    private interface Exchange extends Closeable {
        byte[] roundTrip(byte[] request) throws IOException;
    }

    private static Exchange calls(Endpoint target, Duration wait) throws IOException {
        IpcClient client = IpcClient.connect(
                target,
                ClientOptions.builder()
                        .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                        .build());
        return new Exchange() {
            @Override
            public byte[] roundTrip(byte[] request) throws IOException {
                return client.call(request, wait);
            }

            @Override
            public void close() throws IOException {
                client.close();
            }
        };
    }

    /** Datagrams: a reply is the datagram equal to the request; others (late replies to lost ones) are skipped. */
    private static Exchange datagrams(Endpoint target, Duration wait) throws IOException {
        DatagramSocket socket = Ipc.connectDatagram(
                target,
                DatagramOptions.builder()
                        .set(ConnectionOptions.READ_TIMEOUT, wait)
                        .build());
        return new Exchange() {
            @Override
            public byte[] roundTrip(byte[] request) throws IOException {
                socket.send(request);
                while (true) {
                    byte[] reply = socket.receive().payload();
                    if (reply.length != request.length || Arrays.equals(reply, request)) {
                        return reply;
                    }
                }
            }

            @Override
            public void close() throws IOException {
                socket.close();
            }
        };
    }

    /** The nearest-rank percentile of sorted values. */
    static long percentile(long[] sorted, int percent) {
        int rank = (int) Math.ceil(percent / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
