package dev.ipc.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ClientOptions;
import dev.ipc.ConnectionLostException;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.ServerOptions;
import dev.ipc.testkit.LeakGate;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Faults between client and server, through {@link FaultProxy}: sliced and delayed traffic still gives correct results;
 * a reset or a stall gives a typed error within the configured timeout, and the handler never sees a partial message.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultTest {

    private final ConcurrentLinkedQueue<Integer> handledSizes = new ConcurrentLinkedQueue<>();
    private IpcServer server;

    @BeforeEach
    void startServer() throws IOException {
        server = IpcServer.builder(Endpoint.parse("tcp://127.0.0.1:0"))
                .options(ServerOptions.builder()
                        .set(ServerOptions.FRAME_TIMEOUT, Duration.ofSeconds(1))
                        .build())
                .handler(request -> {
                    handledSizes.add(request.length);
                    return request;
                })
                .build()
                .start();
    }

    @AfterEach
    void stopServer() throws IOException {
        server.close();
    }

    private Endpoint through(FaultProxy proxy) {
        return Endpoint.tcp("127.0.0.1", proxy.port());
    }

    @Test
    void slicedIntoSingleBytesEveryReplyIsRight() throws Exception {
        Random random = new Random(1);
        try (FaultProxy proxy = new FaultProxy(server.endpoint().port(), FaultProxy.Fault.SLICE, 0, 0);
                IpcClient client = IpcClient.connect(through(proxy))) {
            for (int i = 0; i < 100; i++) {
                byte[] request = new byte[random.nextInt(3000)];
                random.nextBytes(request);
                assertArrayEquals(request, client.call(request));
            }
        }
    }

    @Test
    void delayedEveryReplyIsRight() throws Exception {
        Random random = new Random(2);
        try (FaultProxy proxy = new FaultProxy(server.endpoint().port(), FaultProxy.Fault.DELAY, 0, 20);
                IpcClient client = IpcClient.connect(through(proxy))) {
            for (int i = 0; i < 20; i++) {
                byte[] request = new byte[random.nextInt(100_000)];
                random.nextBytes(request);
                assertArrayEquals(request, client.call(request));
            }
        }
    }

    @Test
    void aResetMidMessageFailsTheCallWithATypedErrorAndNoPartialMessageIsHandled() throws Exception {
        try (FaultProxy proxy = new FaultProxy(server.endpoint().port(), FaultProxy.Fault.RESET, 200_000, 0);
                IpcClient client = IpcClient.connect(
                        through(proxy),
                        ClientOptions.builder()
                                .set(ClientOptions.CALL_TIMEOUT, Duration.ofSeconds(5))
                                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                                .build())) {
            assertArrayEquals(new byte[10], client.call(new byte[10]));
            long started = System.nanoTime();
            IOException error = assertThrows(IOException.class, () -> client.call(new byte[1_000_000]));
            assertTrue(error instanceof ConnectionLostException, error.toString());
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5), "within the call timeout");
            assertTrue(proxy.awaitFault(5, TimeUnit.SECONDS));
        }
        assertEquals(List.of(10), List.copyOf(handledSizes), "only whole messages reached the handler");
    }

    @Test
    void aStallMidMessageTimesOutBothSidesAndNoPartialMessageIsHandled() throws Exception {
        try (FaultProxy proxy = new FaultProxy(server.endpoint().port(), FaultProxy.Fault.STALL, 50_000, 0);
                IpcClient client = IpcClient.connect(
                        through(proxy),
                        ClientOptions.builder()
                                .set(ClientOptions.CALL_TIMEOUT, Duration.ofSeconds(1))
                                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                                .build())) {
            assertArrayEquals(new byte[10], client.call(new byte[10]));
            long started = System.nanoTime();
            IOException error = assertThrows(IOException.class, () -> client.call(new byte[100_000]));
            long took = System.nanoTime() - started;
            assertTrue(error instanceof SocketTimeoutException, error.toString());
            assertTrue(
                    took >= TimeUnit.MILLISECONDS.toNanos(900) && took < TimeUnit.SECONDS.toNanos(3),
                    "the call timeout (1 s) held: " + took / 1_000_000 + " ms");
            assertTrue(proxy.awaitFault(5, TimeUnit.SECONDS));
        }
        assertEquals(List.of(10), List.copyOf(handledSizes), "only whole messages reached the handler");
    }
}
