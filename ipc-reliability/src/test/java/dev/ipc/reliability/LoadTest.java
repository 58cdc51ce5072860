package dev.ipc.reliability;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ClientOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.testkit.LeakGate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@value #CLIENTS} clients, each on its own connection and thread, make {@value #CALLS} calls each, all at once: no
 * call is lost, duplicated or answered with another call's reply. Prints throughput and latency (docs/RELIABILITY.md
 * keeps the figures). Bigger runs: -Dipc.reliability.clients=N -Dipc.reliability.calls=N.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class LoadTest extends OnEachTransport {

    static final int CLIENTS = Integer.getInteger("ipc.reliability.clients", 500);
    static final int CALLS = Integer.getInteger("ipc.reliability.calls", 1000);

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void everyCallGetsItsOwnReplyOnce(String transport) throws Exception {
        Endpoint endpoint = endpoint(transport);
        AtomicLong handled = new AtomicLong();
        try (IpcServer server = IpcServer.builder(endpoint)
                .handler(request -> {
                    handled.incrementAndGet();
                    return request;
                })
                .build()
                .start()) {
            List<IpcClient> clients = new ArrayList<>();
            ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
            try {
                for (int i = 0; i < CLIENTS; i++) {
                    clients.add(IpcClient.connect(
                            server.endpoint(),
                            ClientOptions.builder()
                                    .set(ClientOptions.CALL_TIMEOUT, Duration.ofSeconds(60))
                                    .build()));
                }
                CountDownLatch go = new CountDownLatch(1);
                List<Future<long[]>> results = new ArrayList<>();
                for (int i = 0; i < CLIENTS; i++) {
                    IpcClient client = clients.get(i);
                    String name = "c" + i + "-";
                    results.add(threads.submit(() -> {
                        long[] nanos = new long[CALLS];
                        go.await();
                        for (int call = 0; call < CALLS; call++) {
                            byte[] request = (name + call).getBytes(UTF_8);
                            long start = System.nanoTime();
                            byte[] reply = client.call(request);
                            nanos[call] = System.nanoTime() - start;
                            if (!Arrays.equals(request, reply)) {
                                throw new AssertionError("call " + name + call + " got " + new String(reply, UTF_8));
                            }
                        }
                        return nanos;
                    }));
                }
                long started = System.nanoTime();
                go.countDown();
                long[] all = new long[CLIENTS * CALLS];
                int at = 0;
                for (Future<long[]> result : results) {
                    long[] nanos = result.get(240, TimeUnit.SECONDS);
                    System.arraycopy(nanos, 0, all, at, nanos.length);
                    at += nanos.length;
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                assertEquals((long) CLIENTS * CALLS, handled.get(), "the server handled every call exactly once");
                Arrays.sort(all);
                System.out.printf(
                        Locale.ROOT,
                        "RELIABILITY load %s: %d clients x %d calls in %.1f s = %.0f calls/s, "
                                + "p50 %.2f ms, p99 %.2f ms, max %.1f ms, lost 0, duplicated 0, misdelivered 0%n",
                        transport,
                        CLIENTS,
                        CALLS,
                        seconds,
                        all.length / seconds,
                        all[all.length / 2] / 1e6,
                        all[(int) (all.length * 0.99)] / 1e6,
                        all[all.length - 1] / 1e6);
                assertTrue(seconds > 0);
            } finally {
                threads.shutdownNow();
                for (IpcClient client : clients) {
                    client.close();
                }
                assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
            }
        }
    }
}
