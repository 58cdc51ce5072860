package dev.ipc.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.FrameTooLargeException;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.Listener;
import dev.ipc.PeerCredentials;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.BindException;
import java.net.ConnectException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * The behaviour every transport must have, tested once: a backend's test is a small subclass that says which endpoint
 * to listen on and what the backend can do.
 *
 * <p>Capabilities a backend lacks skip their tests with the reason. After the class, the suite checks that no
 * descriptor, thread or socket file was leaked.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class TransportContract {

    private static final Random RANDOM = new Random(20261124);

    private ContractDirectories directories;

    private Path directory;
    private final ExecutorService threads = Executors.newCachedThreadPool(new NamedThreads("ipc-test-contract"));
    private LeakGate.Baseline baseline;

    /**
     * A fresh endpoint to listen on, under {@code directory} for socket files, carrying in its query whatever selects
     * the backend under test.
     */
    protected abstract Endpoint newEndpoint(Path directory);

    /** The id of the transport under test, as {@link dev.ipc.spi.Transport#id()} gives it. */
    protected abstract String transportId();

    /** Whether listening creates a socket file (and so has a path-length limit and a file to clean up). */
    protected boolean usesSocketFiles() {
        Endpoint endpoint = newEndpoint(Path.of("/tmp"));
        return endpoint.isUnix() && !endpoint.isAbstract();
    }

    /** Checks the peer credentials that the backend gives for a peer in this very process. */
    protected abstract void checkPeerIsThisProcess(PeerCredentials peer);

    /** A fresh per-test directory, short enough for socket paths. */
    protected final Path directory() {
        return directory;
    }

    @BeforeAll
    void recordBaseline() throws Exception {
        // One full exchange first, so that classes, native libraries and JDK-internal descriptors that
        // stay for the life of the JVM are already there when the baseline is taken.
        // Short, so that socket paths stay far below the 108-byte limit.
        directories = new ContractDirectories("ipc");
        directory = directories.current();
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            client.send(new byte[] {1});
            assertArrayEquals(new byte[] {1}, server.receive());
        }
        // The runtime too: on JDK 21+ its virtual threads start the JDK's pollers, which stay for good.
        try (IpcServer server = IpcServer.builder(newEndpoint(directory))
                        .handler(request -> request)
                        .build()
                        .start();
                IpcClient client = IpcClient.connect(server.endpoint())) {
            assertArrayEquals(new byte[] {2}, client.call(new byte[] {2}));
        }
        baseline = LeakGate.Baseline.take();
    }

    @BeforeEach
    void newDirectory() throws IOException {
        directory = directories.next();
    }

    @AfterEach
    void noSocketFileLeftBehind() throws IOException {
        directories.assertCurrentEmpty();
    }

    @AfterAll
    void nothingLeaked() throws Exception {
        directories.deleteAll();
        threads.shutdown();
        assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS), "test threads did not stop");
        baseline.assertNothingLeaked("the contract suite on " + transportId(), Duration.ofSeconds(5));
    }

    // ---- helpers ------------------------------------------------------------------------------

    /** Listens on a fresh endpoint. */
    protected final Listener listen(ConnectionOptions options) throws IOException {
        return Ipc.listen(newEndpoint(directory), options);
    }

    /** Connects to {@code endpoint}. */
    protected final Connection connect(Endpoint endpoint, ConnectionOptions options) throws IOException {
        Connection connection = Ipc.connect(endpoint, options);
        checkConnected(connection);
        return connection;
    }

    /**
     * Checks a client connection the suite made, for what the backend under test promises of it (that it really runs in
     * shared memory, say); does nothing by default.
     */
    protected void checkConnected(Connection connection) {}

    private static byte[] randomBytes(int size) {
        byte[] bytes = new byte[size];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    private static byte[] header(long length) {
        return ByteBuffer.allocate(4).putInt((int) length).array();
    }

    // ---- choosing the transport -------------------------------------------------------------------

    @Test
    void choosesTheTransportUnderTest() {
        Endpoint endpoint = newEndpoint(directory);
        assertEquals(
                transportId(),
                Ipc.transportFor(
                                endpoint,
                                ConnectionOptions.defaults().toBuilder()
                                        .query(endpoint)
                                        .build())
                        .id());
    }

    @Test
    void listenerEndpointRoundTripsAndCanBeConnectedTo() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults())) {
            Endpoint bound = listener.endpoint();
            assertEquals(bound, Endpoint.parse(bound.toString()));
            if (bound.isInet()) {
                assertNotEquals(0, bound.port(), "a listener on port 0 reports the port it bound");
            }
            try (Connection client = connect(Endpoint.parse(bound.toString()), ConnectionOptions.defaults());
                    Connection server = listener.accept()) {
                assertEquals(bound, server.localEndpoint());
                assertTrue(client.isOpen() && server.isOpen());
            }
        }
    }

    // ---- messages -------------------------------------------------------------------------------

    @Test
    void echoesMessagesOfEverySize() throws Exception {
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.MAX_FRAME_SIZE, 17 * 1024 * 1024)
                .build();
        try (EchoServer server = EchoServer.start(listen(options));
                Connection client = connect(server.listener().endpoint(), options)) {
            for (int size : new int[] {0, 1, 4, 64 * 1024, 16 * 1024 * 1024, 3}) {
                byte[] message = randomBytes(size);
                Future<?> sent = threads.submit(() -> {
                    client.send(message);
                    return null;
                });
                assertArrayEquals(message, client.receive(), "echo of " + size + " bytes");
                sent.get();
            }
            assertEquals(List.of(), server.failures());
        }
    }

    @Test
    void carriesByteBufferMessages() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            ByteBuffer direct = ByteBuffer.allocateDirect(100);
            direct.put("direct".getBytes(UTF_8)).flip();
            client.send(direct);
            assertFalse(direct.hasRemaining(), "send advances the buffer");
            client.send(ByteBuffer.wrap("xxheapxx".getBytes(UTF_8), 2, 4));
            client.send("slice!".getBytes(UTF_8), 0, 5);

            ByteBuffer into = ByteBuffer.allocate(64);
            assertEquals(6, server.receive(into));
            assertEquals(4, server.receive(into));
            into.flip();
            assertEquals("directheap", UTF_8.decode(into).toString());
            assertEquals("slice", new String(server.receive(), UTF_8));
        }
    }

    @Test
    void keepsAMessagePendingWhenTheBufferIsTooSmall() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            client.send(new byte[] {1, 2, 3, 4, 5});
            IllegalArgumentException tooSmall =
                    assertThrows(IllegalArgumentException.class, () -> server.receive(ByteBuffer.allocate(3)));
            assertTrue(tooSmall.getMessage().contains("5 bytes"), tooSmall.getMessage());
            ByteBuffer bigEnough = ByteBuffer.allocate(5);
            assertEquals(5, server.receive(bigEnough));
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, bigEnough.array());
        }
    }

    @Test
    void servesAHundredConcurrentConnections() throws Exception {
        int clients = 100;
        int messages = 20;
        try (EchoServer server = EchoServer.start(listen(ConnectionOptions.defaults()))) {
            CountDownLatch allConnected = new CountDownLatch(clients);
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int id = c;
                results.add(threads.submit(() -> {
                    try (Connection client = connect(server.listener().endpoint(), ConnectionOptions.defaults())) {
                        allConnected.countDown();
                        allConnected.await();
                        int echoed = 0;
                        for (int m = 0; m < messages; m++) {
                            byte[] message = (id + ":" + m).getBytes(UTF_8);
                            client.send(message);
                            assertArrayEquals(message, client.receive());
                            echoed++;
                        }
                        return echoed;
                    }
                }));
            }
            for (Future<Integer> result : results) {
                assertEquals(messages, result.get());
            }
            assertEquals(List.of(), server.failures());
        }
    }

    @Test
    void concurrentSendersOnOneConnectionLoseNothingAndKeepEachThreadsOrder() throws Exception {
        sendersKeepTheirOrder(
                8,
                2000,
                (client, thread, i) -> client.send(ByteBuffer.allocate(8 + thread % 3 * 100)
                        .putInt(thread)
                        .putInt(i)
                        .array()));
    }

    /** What a sending thread does with its {@code i}-th message. */
    private interface Sending {
        void send(Connection client, int thread, int i) throws Exception;
    }

    /**
     * {@code senders} threads each send {@code messages} numbered messages on one connection as {@code sending} says,
     * then flush; the peer receives every one, each thread's in its order, and nothing more.
     */
    private void sendersKeepTheirOrder(int senders, int messages, Sending sending) throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> sent = new ArrayList<>();
            for (int t = 0; t < senders; t++) {
                int thread = t;
                sent.add(threads.submit(() -> {
                    go.await();
                    for (int i = 0; i < messages; i++) {
                        sending.send(client, thread, i);
                    }
                    client.flush();
                    return null;
                }));
            }
            go.countDown();
            int[] next = new int[senders];
            for (int received = 0; received < senders * messages; received++) {
                ByteBuffer message = ByteBuffer.wrap(server.receive());
                int thread = message.getInt();
                assertEquals(next[thread]++, message.getInt(), "messages of thread " + thread + " in order");
            }
            for (Future<?> sender : sent) {
                sender.get(30, TimeUnit.SECONDS);
            }
            client.shutdownOutput();
            assertNull(server.receive(), "nothing more, nothing duplicated");
        }
    }

    // ---- write, flush and close: the sending rules of Connection ------------------------------------------

    @Test
    void writesFlushesAndSendsFromConcurrentThreadsKeepEachThreadsOrder() throws Exception {
        sendersKeepTheirOrder(4, 5000, (client, thread, i) -> {
            // Small and large (over the queue) messages, queued, sent and flushed in every mix.
            int size = i % 997 == 0 ? 70_000 : 8 + (i + thread) % 5 * 40;
            byte[] message = ByteBuffer.allocate(size).putInt(thread).putInt(i).array();
            if (i % 7 == 0) {
                client.send(message);
            } else {
                client.write(message);
            }
            if (i % 100 == 0) {
                client.flush();
            }
        });
    }

    @Test
    void closeSendsWhatWriteQueuedBeforeItCloses() throws Exception {
        int messages = 1500; // more than the queue holds: some go out as it fills, the rest at the close
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            for (int i = 0; i < messages; i++) {
                client.write(ByteBuffer.allocate(64).putInt(i).array());
            }
            client.close();
            for (int i = 0; i < messages; i++) {
                assertEquals(i, ByteBuffer.wrap(server.receive()).getInt(), "message " + i);
            }
            assertNull(server.receive(), "then the end of stream");
        }
    }

    @Test
    void writeIsHeldBackByASlowReaderWithinItsBoundAndLosesNothing() throws Exception {
        int limit = 500_000; // 34 MB of frames: far more than the kernel and the queue can hold
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            AtomicInteger accepted = new AtomicInteger();
            Future<Integer> writer = startBlockedWrite(() -> {
                byte[] message = new byte[64];
                for (int i = 0; i < limit; i++) {
                    ByteBuffer.wrap(message).putInt(i);
                    client.write(message);
                    accepted.set(i + 1);
                }
                client.flush();
                return accepted.get();
            });
            // The writer stops: the kernel's buffers are full and the queue with them, and write waits.
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            int seen = -1;
            while (seen != accepted.get() && System.nanoTime() < until) {
                seen = accepted.get();
                new CountDownLatch(1).await(100, TimeUnit.MILLISECONDS); // a pause to see whether it moved
            }
            assertFalse(writer.isDone(), "the writer waits for the reader instead of queueing without bound");
            assertTrue(seen < limit, "stopped after " + seen + " messages");
            for (int i = 0; i < limit; i++) {
                assertEquals(i, ByteBuffer.wrap(server.receive()).getInt(), "message " + i + " in order");
            }
            assertEquals(limit, writer.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeCountsTheQueuedMessagesItCouldNotSend() throws Exception {
        ConnectionOptions large = ConnectionOptions.builder()
                .set(ConnectionOptions.MAX_FRAME_SIZE, 64 * 1024 * 1024)
                .set(ConnectionOptions.CLOSE_TIMEOUT, Duration.ofMillis(300))
                .build();
        try (Listener listener = listen(large);
                Connection client = connect(listener.endpoint(), large);
                Connection server = listener.accept()) {
            // The server reads nothing: a 48 MiB send fills every buffer and blocks in the write, holding its lock.
            Future<Object> stuck = startBlockedWrite(() -> {
                client.send(new byte[48 * 1024 * 1024]);
                return null;
            });
            for (int i = 0; i < 5; i++) {
                client.write(new byte[100]);
            }
            IOException reported = assertThrows(IOException.class, client::close);
            assertTrue(
                    reported.getMessage()
                            .contains("with 5 messages (500 bytes) that write or send had accepted but" + " not sent"),
                    reported.getMessage());
            assertFalse(client.isOpen(), "closed all the same");
            Throwable failure = assertThrows(Exception.class, () -> stuck.get(10, TimeUnit.SECONDS))
                    .getCause();
            assertTrue(failure instanceof IOException, "the blocked sender fails: " + failure);
        }
    }

    @Test
    void carriesRawBytesBothWays() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            byte[] request = randomBytes(200_000);
            Future<?> writer = threads.submit(() -> {
                OutputStream out = client.output();
                out.write(request, 0, 1000);
                out.write(request[1000]);
                out.write(request, 1001, request.length - 1001);
                out.close(); // half-close: the server reads to the end
                return null;
            });
            assertArrayEquals(request, server.input().readAllBytes());
            writer.get();
            server.output().write("reply".getBytes(UTF_8));
            server.send("and a message".getBytes(UTF_8));
            server.close();
            byte[] reply = new byte[5];
            InputStream in = client.input();
            for (int read = 0; read < reply.length; ) {
                read += in.read(reply, read, reply.length - read);
            }
            assertEquals("reply", new String(reply, UTF_8));
            assertEquals("and a message", new String(client.receive(), UTF_8));
            assertEquals(-1, in.read());
        }
    }

    @Test
    void aSendAfterShutdownOutputSaysSoAndLeavesReadingAlone() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            server.send("a reply that had arrived".getBytes(UTF_8));
            client.shutdownOutput();
            for (ThrowingRunnable send : List.<ThrowingRunnable>of(
                    () -> client.send(new byte[] {1}),
                    () -> client.send(ByteBuffer.wrap(new byte[] {1})),
                    () -> client.output().write(1))) {
                IOException refused = assertThrows(IOException.class, send::run);
                assertTrue(
                        refused.getMessage().contains("its output was shut down (shutdownOutput)"),
                        String.valueOf(refused.getMessage()));
            }
            assertTrue(client.isOpen(), "the refusal closed nothing");
            assertEquals("a reply that had arrived", new String(client.receive(), UTF_8));
            assertNull(server.receive(), "the server sees the client's end of stream");
            server.send("and one after".getBytes(UTF_8));
            assertEquals("and one after", new String(client.receive(), UTF_8));
        }
    }

    /** A step that may throw anything. */
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void halfCloseLetsThePeerFinishItsReply() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            for (int i = 0; i < 3; i++) {
                client.send(new byte[] {(byte) i});
            }
            client.shutdownOutput();
            int received = 0;
            for (byte[] message = server.receive(); message != null; message = server.receive()) {
                assertArrayEquals(new byte[] {(byte) received++}, message);
            }
            assertEquals(3, received);
            assertNull(server.receive(), "the end of stream stays an end of stream");
            server.send("done".getBytes(UTF_8));
            assertEquals("done", new String(client.receive(), UTF_8));
        }
    }

    // ---- bad input ------------------------------------------------------------------------------

    @Test
    void reportsAnEndOfStreamInsideAFrameAndClosesOnlyThatConnection() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection healthy = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection healthyServer = listener.accept()) {
            for (byte[] partial : List.of(Arrays.copyOf(header(100), 2), concat(header(100), new byte[10]))) {
                try (Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                        Connection server = listener.accept()) {
                    client.output().write(partial);
                    client.shutdownOutput();
                    EOFException eof = assertThrows(EOFException.class, server::receive);
                    String expected =
                            partial.length == 2 ? "after 2 of 4 length bytes" : "after 10 of 100 payload bytes";
                    assertTrue(eof.getMessage().contains(expected), eof.getMessage());
                    assertFalse(server.isOpen(), "a broken frame closes the connection");
                }
            }
            healthy.send("still here".getBytes(UTF_8));
            assertEquals("still here", new String(healthyServer.receive(), UTF_8));
        }
    }

    @Test
    void rejectsBadLengthsBeforeAllocatingAndClosesOnlyThatConnection() throws Exception {
        int limit = 1024;
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.MAX_FRAME_SIZE, limit)
                .build();
        try (Listener listener = listen(options);
                Connection healthy = connect(listener.endpoint(), options);
                Connection healthyServer = listener.accept()) {
            for (long length : new long[] {limit + 1, 0x7fffffffL, 0xffffffffL, 0x80000000L}) {
                try (Connection client = connect(listener.endpoint(), options);
                        Connection server = listener.accept()) {
                    client.output().write(concat(header(length), new byte[16]));
                    // A type of the API, never one of its internal package (which is not exported).
                    FrameTooLargeException bad = assertThrows(FrameTooLargeException.class, server::receive);
                    assertEquals(length, bad.declared());
                    String expected = length > Integer.MAX_VALUE ? "negative" : "declares " + length + " bytes";
                    assertTrue(bad.getMessage().contains(expected), bad.getMessage());
                    assertTrue(bad.getMessage().contains(String.valueOf(limit)), bad.getMessage());
                    assertFalse(server.isOpen());
                }
            }
            healthy.send(new byte[limit]);
            assertEquals(limit, healthyServer.receive().length);
        }
    }

    @Test
    void refusesToSendAMessageOverTheLimitAndStaysUsable() throws Exception {
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.MAX_FRAME_SIZE, 16)
                .build();
        try (Listener listener = listen(options);
                Connection client = connect(listener.endpoint(), options);
                Connection server = listener.accept()) {
            IllegalArgumentException tooBig =
                    assertThrows(IllegalArgumentException.class, () -> client.send(new byte[17]));
            assertTrue(
                    tooBig.getMessage().contains("17 bytes")
                            && tooBig.getMessage().contains("16"),
                    tooBig.getMessage());
            client.send(new byte[16]);
            assertEquals(16, server.receive().length);
        }
    }

    @Test
    void refusesANullMessageNamingItAndStaysUsable() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            for (Executable send : new Executable[] {
                () -> client.send((byte[]) null),
                () -> client.send(null, 0, 0),
                () -> client.send((ByteBuffer) null),
                () -> client.sendWithDescriptors(null)
            }) {
                assertEquals(
                        "message",
                        assertThrows(NullPointerException.class, send).getMessage());
            }
            client.send(new byte[] {7});
            assertArrayEquals(new byte[] {7}, server.receive());
        }
    }

    // ---- timeouts and closing -----------------------------------------------------------------------

    @Test
    void readTimeoutThrowsAndLeavesTheConnectionUsable() throws Exception {
        ConnectionOptions timed = ConnectionOptions.builder()
                .set(ConnectionOptions.READ_TIMEOUT, Duration.ofMillis(150))
                .build();
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), timed);
                Connection server = listener.accept()) {
            SocketTimeoutException timeout = assertThrows(SocketTimeoutException.class, client::receive);
            assertTrue(timeout.getMessage().contains("readTimeout"), timeout.getMessage());
            assertTrue(client.isOpen());

            // Half a frame, a timeout, then the rest: the message arrives whole.
            byte[] message = randomBytes(100_000);
            byte[] frame = concat(header(message.length), message);
            server.output().write(frame, 0, 50_000);
            assertThrows(SocketTimeoutException.class, client::receive);
            server.output().write(frame, 50_000, frame.length - 50_000);
            assertArrayEquals(message, client.receive());

            server.send("small".getBytes(UTF_8));
            assertEquals("small", new String(client.receive(), UTF_8));
            assertThrows(SocketTimeoutException.class, () -> client.input().read());
        }
    }

    @Test
    void acceptTimeoutThrows() throws Exception {
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.ACCEPT_TIMEOUT, Duration.ofMillis(150))
                .build();
        try (Listener listener = listen(options)) {
            SocketTimeoutException timeout = assertThrows(SocketTimeoutException.class, listener::accept);
            assertTrue(timeout.getMessage().contains(listener.endpoint().toString()), timeout.getMessage());
            try (Connection client = connect(listener.endpoint(), options);
                    Connection server = listener.accept()) {
                assertTrue(server.isOpen(), "the listener still accepts after a timeout");
            }
        }
    }

    @Test
    void closeUnblocksAWaitingAccept() throws Exception {
        Listener listener = listen(ConnectionOptions.defaults());
        Future<Connection> accepting = startBlockingCall(listener::accept);
        listener.close();
        Throwable failure = assertThrows(Exception.class, () -> accepting.get(10, TimeUnit.SECONDS))
                .getCause();
        assertTrue(failure instanceof IOException, String.valueOf(failure));
        assertFalse(listener.isOpen());
        listener.close(); // idempotent
        assertThrows(IOException.class, listener::accept);
    }

    @Test
    void closeUnblocksAWaitingReceive() throws Exception {
        for (ConnectionOptions options : List.of(
                ConnectionOptions.defaults(),
                ConnectionOptions.builder()
                        .set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(30))
                        .build())) {
            try (Listener listener = listen(options);
                    Connection client = connect(listener.endpoint(), options);
                    Connection server = listener.accept()) {
                Future<byte[]> receiving = startBlockingCall(client::receive);
                client.close();
                Throwable failure = assertThrows(Exception.class, () -> receiving.get(10, TimeUnit.SECONDS))
                        .getCause();
                assertTrue(failure instanceof IOException, String.valueOf(failure));
                assertFalse(client.isOpen());
                client.close(); // idempotent
                assertThrows(IOException.class, () -> client.send(new byte[1]));
                assertNull(server.receive(), "the peer sees the end of stream");
            }
        }
    }

    /**
     * Runs {@code call} on a suite thread and returns once that thread is blocked inside the socket call (its stack
     * shows it in the channel implementation) or the call has ended.
     */
    private <T> Future<T> startBlockingCall(Callable<T> call) throws InterruptedException {
        return startBlocking(call, TransportContract::isInsideSocketCall);
    }

    /**
     * Runs {@code call} on a suite thread and returns once that thread is inside a socket write (so it holds the
     * connection's write lock), or the call has ended.
     */
    private <T> Future<T> startBlockedWrite(Callable<T> call) throws InterruptedException {
        return startBlocking(call, TransportContract::isInsideSocketWrite);
    }

    private <T> Future<T> startBlocking(Callable<T> call, Predicate<Thread> blocked) throws InterruptedException {
        AtomicReference<Thread> runner = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        Future<T> task = threads.submit(() -> {
            runner.set(Thread.currentThread());
            started.countDown();
            return call.call();
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!task.isDone() && !blocked.test(runner.get()) && System.nanoTime() < until) {
            Thread.yield();
        }
        return task;
    }

    /** Whether a frame of the JDK's or junixsocket's channels that writes is on the thread's stack. */
    private static boolean isInsideSocketWrite(Thread thread) {
        for (StackTraceElement frame : thread.getStackTrace()) {
            String type = frame.getClassName();
            if ((type.startsWith("sun.nio.ch.") || type.startsWith("org.newsclub."))
                    && frame.getMethodName().toLowerCase(Locale.ROOT).contains("write")) {
                return true;
            }
        }
        return false;
    }

    private static boolean isInsideSocketCall(Thread thread) {
        StackTraceElement[] stack = thread.getStackTrace();
        if (stack.length == 0) {
            return false;
        }
        String top = stack[0].getClassName();
        return top.startsWith("sun.nio.ch.") || top.startsWith("org.newsclub.") || stack[0].isNativeMethod();
    }

    @Test
    void connectTimeoutHoldsWhenTheBacklogIsFull() throws Exception {
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.BACKLOG, 1)
                .set(ConnectionOptions.CONNECT_TIMEOUT, Duration.ofMillis(300))
                .build();
        List<Connection> queued = new ArrayList<>();
        try (Listener listener = listen(options)) {
            SocketTimeoutException timeout = null;
            for (int attempt = 0; attempt < 64 && timeout == null; attempt++) {
                try {
                    queued.add(connect(listener.endpoint(), options));
                } catch (SocketTimeoutException e) {
                    timeout = e;
                }
            }
            assertTrue(timeout != null, "a connect to a listener that never accepts timed out");
            assertTrue(timeout.getMessage().contains("connectTimeout"), timeout.getMessage());
        } finally {
            for (Connection connection : queued) {
                connection.close();
            }
        }
    }

    // ---- binding ------------------------------------------------------------------------------------

    @Test
    void refusesToBindWhereAnotherListenerIs() throws Exception {
        try (Listener first = listen(ConnectionOptions.defaults())) {
            BindException conflict = assertThrows(
                    BindException.class,
                    () -> Ipc.listen(first.endpoint(), ConnectionOptions.defaults())
                            .close());
            assertTrue(conflict.getMessage().contains(first.endpoint().toString()), conflict.getMessage());
            try (Connection client = connect(first.endpoint(), ConnectionOptions.defaults());
                    Connection server = first.accept()) {
                client.send(new byte[] {7});
                assertArrayEquals(new byte[] {7}, server.receive(), "the first listener is untouched");
            }
        }
    }

    @Test
    void connectingWhereNobodyListensFailsWithTheEndpointInTheMessage() throws Exception {
        Endpoint nobody;
        try (Listener listener = listen(ConnectionOptions.defaults())) {
            nobody = listener.endpoint();
        }
        ConnectException refused = assertThrows(
                ConnectException.class,
                () -> connect(nobody, ConnectionOptions.defaults()).close());
        assertTrue(refused.getMessage().contains(nobody.withoutParameters().toString()), refused.getMessage());
    }

    @Test
    void removesTheSocketFileOnCloseButNotAFileThatReplacedIt() throws Exception {
        assumeTrue(usesSocketFiles(), "this transport creates no socket file");
        Listener listener = listen(ConnectionOptions.defaults());
        Path path = listener.endpoint().path().orElseThrow();
        assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS));
        listener.close();
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "socket file removed on close");

        Listener second = listen(ConnectionOptions.defaults());
        Path secondPath = second.endpoint().path().orElseThrow();
        Files.delete(secondPath);
        Files.writeString(secondPath, "another process's file");
        second.close();
        assertEquals("another process's file", Files.readString(secondPath), "a file that is not ours stays");
        Files.delete(secondPath);
    }

    @Test
    void refusesToBindOverAnExistingFile() throws Exception {
        assumeTrue(usesSocketFiles(), "this transport creates no socket file");
        Endpoint endpoint = newEndpoint(directory);
        Path path = endpoint.path().orElseThrow();
        Files.writeString(path, "data");
        try {
            BindException inTheWay =
                    assertThrows(BindException.class, () -> Ipc.listen(endpoint).close());
            assertTrue(
                    inTheWay.getMessage().contains("a regular file already exists at " + path), inTheWay.getMessage());
            assertEquals("data", Files.readString(path), "the file in the way is untouched");
        } finally {
            Files.delete(path);
        }
    }

    @Test
    void rejectsASocketPathOverThePlatformLimitBeforeCreatingAnything() throws Exception {
        assumeTrue(usesSocketFiles(), "this transport creates no socket file");
        Endpoint sample = newEndpoint(directory);
        String longName = "x".repeat(120) + ".sock";
        Endpoint tooLong = Endpoint.parse(sample.toString()
                .replace(sample.path().orElseThrow().getFileName().toString(), longName));
        Path path = tooLong.path().orElseThrow();
        for (Runnable attempt : List.<Runnable>of(
                () -> expectTooLong(() -> Ipc.listen(tooLong).close()),
                () -> expectTooLong(() -> Ipc.connect(tooLong).close()))) {
            attempt.run();
            assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "nothing created at " + path);
        }
    }

    private static void expectTooLong(Executable attempt) {
        SocketException tooLong = assertThrows(SocketException.class, attempt);
        String message = tooLong.getMessage();
        assertTrue(
                message.contains("bytes long") && message.contains("limit") && message.contains("xxxx.sock"), message);
    }

    // ---- file descriptors ---------------------------------------------------------------------------

    @Test
    void passesOpenFileDescriptorsWhereTheBackendCan() throws Exception {
        Path file = Files.writeString(directory.resolve("shared.txt"), "handed over");
        try (Listener listener = listen(ConnectionOptions.builder()
                        .set(ConnectionOptions.MAX_RECEIVED_DESCRIPTORS, 4)
                        .build());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept();
                FileInputStream open = new FileInputStream(file.toFile())) {
            assumeTrue(client.canPassDescriptors(), transportId() + " cannot pass file descriptors");
            client.send("before".getBytes(UTF_8));
            client.sendWithDescriptors("with".getBytes(UTF_8), open.getFD());
            assertEquals("before", new String(server.receive(), UTF_8));
            assertEquals("with", new String(server.receive(), UTF_8));
            List<FileDescriptor> received = server.takeReceivedDescriptors();
            assertEquals(1, received.size());
            assertEquals(List.of(), server.takeReceivedDescriptors(), "taking clears them");
            try (FileInputStream copy = new FileInputStream(received.get(0))) {
                assertEquals("handed over", new String(copy.readAllBytes(), UTF_8));
            }
        } finally {
            Files.delete(file);
        }
    }

    /** A connection takes no descriptor it was not told to: the kernel closes those a peer attaches. */
    @Test
    void takesNoFileDescriptorsUnlessToldTo() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept();
                FileInputStream open = new FileInputStream("/dev/null")) {
            assumeTrue(client.canPassDescriptors(), transportId() + " cannot pass file descriptors");
            long before = OpenDescriptors.count();
            FileDescriptor[] many = new FileDescriptor[100];
            Arrays.fill(many, open.getFD());
            client.sendWithDescriptors("with".getBytes(UTF_8), many);
            assertEquals("with", new String(server.receive(), UTF_8));
            assertEquals(List.of(), server.takeReceivedDescriptors());
            assertTrue(OpenDescriptors.count() <= before, "descriptors held: " + OpenDescriptors.describe());
        }
    }

    /** Past maxReceivedDescriptors, the extra descriptors are closed and the read fails naming the bound. */
    @Test
    void refusesMoreFileDescriptorsThanItHoldsAndClosesThem() throws Exception {
        try (Listener listener = listen(ConnectionOptions.builder()
                        .set(ConnectionOptions.MAX_RECEIVED_DESCRIPTORS, 2)
                        .build());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept();
                FileInputStream open = new FileInputStream("/dev/null")) {
            assumeTrue(client.canPassDescriptors(), transportId() + " cannot pass file descriptors");
            long before = OpenDescriptors.count();
            client.sendWithDescriptors("two".getBytes(UTF_8), open.getFD(), open.getFD());
            assertEquals("two", new String(server.receive(), UTF_8));
            client.sendWithDescriptors("one more".getBytes(UTF_8), open.getFD());
            ProtocolException refused = assertThrows(ProtocolException.class, server::receive);
            assertTrue(refused.getMessage().contains("maxReceivedDescriptors"), refused.getMessage());
            // The connection failed with that read: the two it held untaken were closed with it.
            assertEquals(List.of(), server.takeReceivedDescriptors());
            assertTrue(OpenDescriptors.count() <= before, "descriptors held: " + OpenDescriptors.describe());
        }
    }

    @Test
    void saysWhyItCannotPassFileDescriptors() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            assumeTrue(!client.canPassDescriptors(), transportId() + " can pass file descriptors");
            UnsupportedOperationException e = assertThrows(
                    UnsupportedOperationException.class,
                    () -> client.sendWithDescriptors(new byte[1], FileDescriptor.in));
            assertTrue(e.getMessage().contains("cannot pass file descriptors"), e.getMessage());
            client.send(new byte[] {9});
            assertArrayEquals(new byte[] {9}, server.receive(), "nothing was sent by the refused call");
        }
    }

    // ---- peers and processes --------------------------------------------------------------------------

    @Test
    void peerCredentialsDescribeTheOtherSide() throws Exception {
        try (Listener listener = listen(ConnectionOptions.defaults());
                Connection client = connect(listener.endpoint(), ConnectionOptions.defaults());
                Connection server = listener.accept()) {
            checkPeerIsThisProcess(server.peer());
            checkPeerIsThisProcess(client.peer());
        }
    }

    @Test
    void talksToASecondProcess() throws Exception {
        Process peer = startEchoPeer(newEndpoint(directory));
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(peer.getInputStream(), UTF_8));
            // A pipe read can't be interrupted: read on a suite thread so that a silent peer fails the test.
            String ready = threads.submit(lines::readLine).get(30, TimeUnit.SECONDS);
            if (ready == null || !ready.startsWith("READY ")) {
                peer.destroyForcibly();
                fail("first line of the peer: " + ready + "; stderr: "
                        + new String(peer.getErrorStream().readAllBytes(), UTF_8));
            }
            Endpoint endpoint = Endpoint.parse(ready.substring("READY ".length()));
            try (Connection connection = connect(endpoint, ConnectionOptions.defaults())) {
                for (int size : new int[] {0, 64, 100_000}) {
                    byte[] message = randomBytes(size);
                    connection.send(message);
                    assertArrayEquals(message, connection.receive());
                }
                connection.shutdownOutput();
                assertNull(connection.receive());
            }
            assertTrue(threads.submit(lines::readLine).get(30, TimeUnit.SECONDS).startsWith("PEER "));
            assertEquals("DONE", threads.submit(lines::readLine).get(30, TimeUnit.SECONDS));
            assertTrue(peer.waitFor(20, TimeUnit.SECONDS), "the peer exits");
            assertEquals(0, peer.exitValue());
        } finally {
            JavaProcesses.reap(peer);
        }
    }

    private static Process startEchoPeer(Endpoint endpoint) throws IOException {
        return new ProcessBuilder(JavaProcesses.command(EchoPeer.class.getName(), endpoint.toString())).start();
    }

    private static byte[] concat(byte[] first, byte[] second) {
        byte[] both = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, both, first.length, second.length);
        return both;
    }

    /** The shared-secret handshake on the same transport. */
    @Nested
    class SharedSecret extends SecretContract {
        SharedSecret() {
            super(TransportContract.this);
        }
    }

    /** The runtime's contract ({@link IpcServer}, {@link IpcClient}) on the same transport. */
    @Nested
    class ServerAndClient extends RuntimeContract {
        ServerAndClient() {
            super(TransportContract.this);
        }
    }

    /** The wire protocol, byte by byte from another language, on the same transport. */
    @Nested
    class Conformance extends ConformanceContract {
        Conformance() {
            super(TransportContract.this);
        }
    }
}
