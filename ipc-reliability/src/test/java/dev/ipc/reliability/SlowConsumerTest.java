package dev.ipc.reliability;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.ServerOptions;
import dev.ipc.testkit.Background;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.LogCapture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A client that sends requests and never reads the replies: the server takes no more of its requests than
 * {@code maxInFlight} (so its memory for that client is bounded), cuts it off once a write has stalled for
 * {@code writeTimeout}, and serves another client at its usual pace all the while.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SlowConsumerTest extends OnEachTransport {

    private static final int MAX_IN_FLIGHT = 16;
    private static final int SIZE = 64 * 1024;

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void cutsOffAClientThatStopsReadingWhileOthersAreServed(String transport) throws Exception {
        Endpoint endpoint = endpoint(transport);
        AtomicInteger slowHandled = new AtomicInteger();
        ServerOptions options = ServerOptions.builder()
                .set(ServerOptions.WRITE_TIMEOUT, Duration.ofSeconds(1))
                .set(ServerOptions.MAX_IN_FLIGHT, MAX_IN_FLIGHT)
                .build();
        try (LogCapture log = LogCapture.start();
                IpcServer server = IpcServer.builder(endpoint)
                        .options(options)
                        .handler(request -> {
                            if (request.length == SIZE) {
                                slowHandled.incrementAndGet();
                            }
                            return request;
                        })
                        .build()
                        .start();
                IpcClient good = IpcClient.connect(server.endpoint());
                Connection slow = Ipc.connect(server.endpoint())) {
            slow.output().write(new byte[] {0, 0, 0, 6, 1, 0x49, 0x50, 0x43, 0, 1}); // HELLO, version 1
            assertEquals(2, slow.receive()[0], "WELCOME");
            AtomicLong sent = new AtomicLong();
            CompletableFuture<Throwable> flood = Background.call("io", () -> {
                byte[] payload = new byte[SIZE];
                try {
                    for (int id = 1; id <= 100_000; id++) {
                        slow.send(ByteBuffer.allocate(5 + SIZE)
                                .put((byte) 3)
                                .putInt(id)
                                .put(payload)
                                .array());
                        sent.incrementAndGet();
                    }
                    return null;
                } catch (IOException e) {
                    return e; // the server cut it off
                }
            });
            long started = System.nanoTime();
            long slowest = 0;
            int calls = 0;
            while (!flood.isDone()) {
                long start = System.nanoTime();
                byte[] request = ("good " + calls++).getBytes(UTF_8);
                assertArrayEquals(request, good.call(request, Duration.ofSeconds(5)));
                slowest = Math.max(slowest, System.nanoTime() - start);
                assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(30), "the slow client was cut off");
            }
            assertTrue(flood.get() != null, "the slow client's sends ended with an error once cut off");
            String line = log.await(Duration.ofSeconds(5), "stalled for writeTimeout PT1S");
            assertTrue(line.contains("the peer reads nothing"), line);
            // Replies held: at most maxInFlight unwritten, plus what the two sockets' buffers took (a few MiB).
            assertTrue(
                    slowHandled.get() <= MAX_IN_FLIGHT + 128,
                    "the server stopped taking the slow client's " + "requests: it handled " + slowHandled.get()
                            + " of " + sent.get());
            System.out.printf(
                    Locale.ROOT,
                    "RELIABILITY slow consumer %s: cut off after %.1f s; it sent %d requests of "
                            + "64 KiB, the server took %d (maxInFlight %d); meanwhile %d calls of another "
                            + "client, slowest "
                            + "%.1f ms%n",
                    transport,
                    (System.nanoTime() - started) / 1e9,
                    sent.get(),
                    slowHandled.get(),
                    MAX_IN_FLIGHT,
                    calls,
                    slowest / 1e6);
            assertTrue(
                    slowest < TimeUnit.MILLISECONDS.toNanos(500),
                    "the other client was not held up: " + slowest / 1_000_000 + " ms");
        }
    }

    /**
     * More clients that never read than a JDK 17 server has platform workers (max(8, 4 x CPUs)), each with a 1 MiB
     * reply stuck in its socket: each stuck write holds a worker until writeTimeout, so everyone else's calls used to
     * wait that long. A worker stuck in a write is replaced within a watchdog tick or two. (On JDK 21+ the workers are
     * virtual threads and this holds anyway.)
     */
    @Test
    void clientsThatNeverReadDoNotStarveTheWorkers() throws Exception {
        int stuck = Math.max(8, 4 * Runtime.getRuntime().availableProcessors()) + 2;
        int size = 1024 * 1024;
        CountDownLatch handled = new CountDownLatch(stuck);
        ServerOptions options = ServerOptions.builder()
                .set(ServerOptions.WRITE_TIMEOUT, Duration.ofSeconds(60))
                .build();
        List<Connection> readers = new ArrayList<>();
        try (IpcServer server = IpcServer.builder(endpoint("unix"))
                        .options(options)
                        .handler(request -> {
                            if (request.length == size) {
                                handled.countDown();
                            }
                            return request;
                        })
                        .build()
                        .start();
                IpcClient good = IpcClient.connect(server.endpoint())) {
            for (int i = 0; i < stuck; i++) {
                Connection never = Ipc.connect(server.endpoint());
                readers.add(never);
                never.output().write(new byte[] {0, 0, 0, 6, 1, 0x49, 0x50, 0x43, 0, 1}); // HELLO, version 1
                assertEquals(2, never.receive()[0], "WELCOME");
                never.send(ByteBuffer.allocate(5 + size).put((byte) 3).putInt(1).array());
            }
            assertTrue(handled.await(60, TimeUnit.SECONDS), "every stuck client's request was handled");
            long started = System.nanoTime();
            byte[] request = "good".getBytes(UTF_8);
            assertArrayEquals(request, good.call(request, Duration.ofSeconds(20)));
            System.out.printf(
                    Locale.ROOT,
                    "RELIABILITY stuck writers: %d clients never read their 1 MiB replies; another client's call"
                            + " took %.1f ms%n",
                    stuck,
                    (System.nanoTime() - started) / 1e6);
        } finally {
            for (Connection never : readers) {
                never.close();
            }
        }
    }
}
