package dev.ipc.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.AuthenticationException;
import dev.ipc.ClientOptions;
import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.ErrorCode;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.Listener;
import dev.ipc.RemoteException;
import dev.ipc.Secret;
import dev.ipc.ServerOptions;
import java.io.EOFException;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The shared-secret handshake on one transport: a client that knows the secret is served, every other is refused with a
 * clear error on both sides before any application byte passes, and a good client is served meanwhile. Runs inside
 * {@link TransportContract}, on every transport.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class SecretContract {

    private static final Duration LOG_WAIT = Duration.ofSeconds(10);
    private static final Secret SECRET = Secret.of("correct horse battery staple".getBytes(UTF_8));
    private static final Secret WRONG = Secret.of("incorrect horse battery staple".getBytes(UTF_8));

    private final TransportContract contract;
    private final ExecutorService threads = Executors.newCachedThreadPool(new NamedThreads("ipc-test-secret"));

    protected SecretContract(TransportContract contract) {
        this.contract = contract;
    }

    @AfterAll
    void stopThreads() throws InterruptedException {
        threads.shutdownNow();
        assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS));
    }

    private static ConnectionOptions with(Secret secret) {
        return ConnectionOptions.builder().set(ConnectionOptions.SECRET, secret).build();
    }

    private static ClientOptions client(ConnectionOptions options) {
        return ClientOptions.builder().connection(options).build();
    }

    private IpcServer echoServer(ConnectionOptions options) throws IOException {
        return echoServer(ServerOptions.builder().connection(options).build());
    }

    private IpcServer echoServer(ServerOptions options) throws IOException {
        return IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(options)
                .handler(request -> request)
                .build()
                .start();
    }

    private static void assertServed(IpcClient client, String message) throws IOException {
        assertArrayEquals(message.getBytes(UTF_8), client.call(message.getBytes(UTF_8)));
    }

    private static void assertMentions(Throwable error, String part) {
        assertTrue(String.valueOf(error.getMessage()).contains(part), error + " should mention: " + part);
    }

    @Test
    void aClientThatKnowsTheSecretIsServedAndKeepsItsCredentials() throws Exception {
        try (Listener listener = contract.listen(with(SECRET));
                Connection client = contract.connect(listener.endpoint(), with(SECRET));
                Connection server = listener.accept()) {
            client.send("after the proof".getBytes(UTF_8));
            assertEquals("after the proof", new String(server.receive(), UTF_8));
            contract.checkPeerIsThisProcess(server.peer());
        }
    }

    @Test
    void aWrongSecretIsRefusedOnBothSides() throws Exception {
        try (LogCapture log = LogCapture.start();
                IpcServer server = echoServer(with(SECRET));
                IpcClient good = IpcClient.connect(server.endpoint(), client(with(SECRET)))) {
            assertServed(good, "before");
            AuthenticationException error = assertThrows(
                    AuthenticationException.class,
                    () -> IpcClient.connect(server.endpoint(), client(with(WRONG)))
                            .close());
            assertMentions(error, "does not know the shared secret");
            log.await(LOG_WAIT, "refused a connection", "the two sides hold different secrets");
            assertServed(good, "after");
        }
    }

    @Test
    void aClientWithoutTheSecretIsRefusedOnBothSides() throws Exception {
        try (LogCapture log = LogCapture.start();
                IpcServer server = echoServer(with(SECRET));
                IpcClient good = IpcClient.connect(server.endpoint(), client(with(SECRET)))) {
            RemoteException error = assertThrows(
                    RemoteException.class,
                    () -> IpcClient.connect(server.endpoint(), client(ConnectionOptions.defaults()))
                            .close());
            assertEquals(ErrorCode.UNAUTHORIZED, error.code());
            assertMentions(error, "requires a shared secret");
            log.await(LOG_WAIT, "refused a connection", "the client has none configured");
            assertServed(good, "still here");
        }
    }

    @Test
    void aSecretOfferedToAServerWithoutOneIsRefusedOnBothSides() throws Exception {
        try (LogCapture log = LogCapture.start();
                IpcServer server = echoServer(ConnectionOptions.defaults())) {
            AuthenticationException error = assertThrows(
                    AuthenticationException.class,
                    () -> IpcClient.connect(server.endpoint(), client(with(SECRET)))
                            .close());
            assertMentions(error, "this server has none configured");
            log.await(LOG_WAIT, "this server has none configured");
        }
    }

    @Test
    void refusesTruncatedAndOversizedHandshakeFramesFromAClient() throws Exception {
        try (LogCapture log = LogCapture.start();
                Listener listener = contract.listen(with(SECRET));
                Connection good = connectInBackground(listener, SECRET)) {
            byte[][] bad = {
                ByteBuffer.allocate(14)
                        .putInt(37)
                        .put(new byte[] {7, 'I', 'P', 'C', 1})
                        .array(), // cut after 10 bytes
                ByteBuffer.allocate(8).putInt(100_000).putInt(0).array(),
            };
            for (byte[] frame : bad) {
                try (Connection raw = contract.connect(listener.endpoint(), ConnectionOptions.defaults())) {
                    raw.output().write(frame);
                    raw.shutdownOutput();
                    raw.input().readAllBytes(); // until the server closes it
                }
            }
            log.await(LOG_WAIT, "refused a connection", "inside the client's hello: after 10 of 37 bytes");
            log.await(LOG_WAIT, "refused a connection", "declares 100000 bytes; handshake frames are 1 to 256");
            try (Connection server = listener.accept()) {
                good.send("good".getBytes(UTF_8));
                assertEquals("good", new String(server.receive(), UTF_8), "only the good client got through");
            }
        }
    }

    /**
     * Connects with the secret on a suite thread (the handshake needs the listener's side) and returns the connection.
     */
    private Connection connectInBackground(Listener listener, Secret secret) throws Exception {
        return threads.submit(() -> contract.connect(listener.endpoint(), with(secret)))
                .get(30, TimeUnit.SECONDS);
    }

    @Test
    void refusesTruncatedAndOversizedHandshakeRepliesFromAServer() throws Exception {
        byte[][] replies = {
            ByteBuffer.allocate(14)
                    .putInt(65)
                    .put(new byte[] {8, 1, 2, 3, 4, 5, 6, 7, 8, 9})
                    .array(),
            ByteBuffer.allocate(8).putInt(1 << 20).putInt(0).array(),
        };
        for (byte[] reply : replies) {
            try (Listener fake = contract.listen(ConnectionOptions.defaults())) {
                Future<Connection> connecting = threads.submit(() -> contract.connect(fake.endpoint(), with(SECRET)));
                try (Connection server = fake.accept()) {
                    byte[] hello = readRawFrame(server);
                    assertEquals(7, hello[0], "the client opens with AUTH_HELLO");
                    server.output().write(reply);
                    server.shutdownOutput();
                    Throwable error = assertThrows(ExecutionException.class, () -> connecting.get(30, TimeUnit.SECONDS))
                            .getCause();
                    if (reply.length == 14) {
                        assertTrue(error instanceof EOFException, error.toString());
                        assertMentions(error, "inside the server's challenge: after 10 of 65 bytes");
                    } else {
                        assertTrue(error instanceof ProtocolException, error.toString());
                        assertMentions(error, "declares 1048576 bytes; handshake frames are 1 to 256");
                    }
                }
            }
        }
    }

    private static byte[] readRawFrame(Connection connection) throws IOException {
        byte[] header = connection.input().readNBytes(4);
        int length = ByteBuffer.wrap(header).getInt();
        return connection.input().readNBytes(length);
    }

    @Test
    void closesSilentConnectionsAtTheHandshakeTimeoutWhileGoodClientsConnect() throws Exception {
        ConnectionOptions quick = with(SECRET).toBuilder()
                .set(ConnectionOptions.HANDSHAKE_TIMEOUT, Duration.ofMillis(500))
                .build();
        try (IpcServer server = echoServer(quick)) {
            List<Connection> silent = new ArrayList<>();
            try {
                // Plain blocking reads, bounded by the test's timeout: junixsocket's timed read (a selector) at times
                // misses an end of stream that follows data, about one connection in a hundred.
                ConnectionOptions patient = ConnectionOptions.defaults();
                for (int i = 0; i < 100; i++) {
                    silent.add(contract.connect(server.endpoint(), patient));
                }
                for (int i = 0; i < 10; i++) {
                    try (IpcClient client = IpcClient.connect(server.endpoint(), client(with(SECRET)))) {
                        assertServed(client, "good " + i);
                    }
                }
                for (Connection connection : silent) {
                    byte[] error = connection.receive();
                    assertEquals(5, error[0], "the server tells a silent connection why it closes it: an ERROR");
                    assertEquals(8, ByteBuffer.wrap(error, 5, 2).getShort(), "TIMEOUT");
                    assertNull(connection.receive(), "then closes it");
                }
            } finally {
                for (Connection connection : silent) {
                    connection.close();
                }
            }
        }
    }

    @Test
    void aSecretTooShortToBeOneIsRefusedBeforeListening() {
        IllegalArgumentException error = assertThrows(
                IllegalArgumentException.class,
                () -> contract.listen(with(Secret.of("short".getBytes(UTF_8)))).close());
        assertMentions(error, "at least 16");
        assertTrue(
                Arrays.stream(error.getMessage().split(" ")).noneMatch("short"::equals),
                "the message never shows the secret: " + error.getMessage());
    }
}
