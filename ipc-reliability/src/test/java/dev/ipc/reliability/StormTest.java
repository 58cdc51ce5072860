package dev.ipc.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ClientOptions;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.RemoteException;
import dev.ipc.testkit.LeakGate;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
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
 * {@value #CONNECTS} connects in one burst against the default backlog of 511: each client is either served or refused
 * in a way it can retry (connection refused, connect timeout, TOO_MANY_CONNECTIONS), and none waits past its connect
 * timeout plus its handshake and call timeouts.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class StormTest extends OnEachTransport {

    static final int CONNECTS = Integer.getInteger("ipc.reliability.connects", 2000);
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void everyClientIsServedOrRefusedRetryably(String transport) throws Exception {
        Endpoint endpoint = endpoint(transport);
        ClientOptions clientOptions = ClientOptions.builder()
                .set(ConnectionOptions.CONNECT_TIMEOUT, TIMEOUT)
                .set(ConnectionOptions.HANDSHAKE_TIMEOUT, TIMEOUT)
                .set(ClientOptions.CALL_TIMEOUT, TIMEOUT)
                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                .build();
        long bound = TIMEOUT.multipliedBy(3).plusSeconds(2).toNanos();
        Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
        AtomicLong slowest = new AtomicLong();
        try (IpcServer server =
                IpcServer.builder(endpoint).handler(request -> request).build().start()) {
            ExecutorService threads = Executors.newFixedThreadPool(Math.min(CONNECTS, 1000));
            try {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<?>> attempts = new ArrayList<>();
                for (int i = 0; i < CONNECTS; i++) {
                    attempts.add(threads.submit(() -> {
                        go.await();
                        long start = System.nanoTime();
                        String outcome;
                        try (IpcClient client = IpcClient.connect(server.endpoint(), clientOptions)) {
                            client.call(new byte[] {1});
                            outcome = "served";
                        } catch (RemoteException e) {
                            assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, e.code(), e.toString());
                            outcome = "refused: too many connections";
                        } catch (ConnectException e) {
                            outcome = "refused: connection refused";
                        } catch (SocketTimeoutException e) {
                            outcome = "refused: timed out";
                        } catch (IOException e) {
                            throw new AssertionError("neither served nor retryably refused: " + e, e);
                        }
                        long took = System.nanoTime() - start;
                        slowest.accumulateAndGet(took, Math::max);
                        assertTrue(took < bound, outcome + " after " + took / 1_000_000 + " ms");
                        outcomes.computeIfAbsent(outcome, key -> new AtomicLong())
                                .incrementAndGet();
                        return null;
                    }));
                }
                go.countDown();
                for (Future<?> attempt : attempts) {
                    attempt.get(120, TimeUnit.SECONDS);
                }
            } finally {
                threads.shutdownNow();
                assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
            }
        }
        long total = outcomes.values().stream().mapToLong(AtomicLong::get).sum();
        assertEquals(CONNECTS, total, "every connect ended one way or the other: " + outcomes);
        System.out.printf(
                "RELIABILITY storm %s: %d connects against backlog 511: %s; slowest %d ms%n",
                transport, CONNECTS, new TreeMap<>(outcomes), slowest.get() / 1_000_000);
    }
}
