package dev.ipc.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.ConnectionOptions;
import dev.ipc.Datagram;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import java.io.IOException;
import java.net.ConnectException;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The behaviour every datagram transport must have, tested once: a transport's test is a small subclass that says which
 * endpoint to bind and what the transport promises.
 *
 * <p>After the class, the suite checks that no descriptor, thread or socket file was leaked.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class DatagramContract {

    private static final Random RANDOM = new Random(20261201);
    private static final Path PYTHON = Path.of("/usr/bin/python3");

    private ContractDirectories directories;
    private Path directory;
    private final ExecutorService threads = Executors.newCachedThreadPool(new NamedThreads("ipc-test-datagram"));
    private LeakGate.Baseline baseline;

    /** A fresh endpoint to bind, under {@code directory} for socket files, with whatever its query needs. */
    protected abstract Endpoint newEndpoint(Path directory);

    /** The id of the datagram transport under test, as {@link dev.ipc.spi.DatagramTransport#id()} gives it. */
    protected abstract String transportId();

    /**
     * Whether the transport delivers every datagram in order and holds a sender back while the receiver is full (Unix
     * datagrams), rather than dropping (UDP); a reliable transport also refuses a send to an address nobody has bound.
     */
    protected abstract boolean isReliable();

    /**
     * Why this transport's sockets cannot receive an empty datagram, or null if they can: junixsocket 2.10.1 takes one
     * for "nothing arrived" and drops it.
     */
    protected String whyEmptyDatagramsAreDropped() {
        return null;
    }

    /** The largest datagram the default options let a socket send. */
    protected int defaultMaxDatagramSize() {
        return 65_507;
    }

    /** Whether binding creates a socket file. */
    protected final boolean usesSocketFiles() {
        Endpoint endpoint = newEndpoint(Path.of("/tmp"));
        return endpoint.isUnix() && !endpoint.isAbstract();
    }

    /** The fresh per-test directory, short enough for socket paths. */
    protected final Path directory() {
        return directory;
    }

    @BeforeAll
    void recordBaseline() throws Exception {
        directories = new ContractDirectories("ipcd");
        directory = directories.current();
        // One exchange first, so that classes and native libraries that stay for the JVM's life are loaded.
        try (DatagramSocket server = bind(DatagramOptions.defaults());
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            client.send(new byte[] {1});
            assertArrayEquals(new byte[] {1}, server.receive().payload());
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
        baseline.assertNothingLeaked("the datagram contract on " + transportId(), Duration.ofSeconds(5));
    }

    /** Binds a fresh endpoint. */
    protected final DatagramSocket bind(DatagramOptions options) throws IOException {
        return Ipc.bindDatagram(newEndpoint(directory), options);
    }

    private static DatagramOptions withReadTimeout(Duration timeout) {
        return DatagramOptions.builder()
                .set(ConnectionOptions.READ_TIMEOUT, timeout)
                .build();
    }

    private static byte[] randomBytes(int size) {
        byte[] bytes = new byte[size];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    // ---- addresses ----------------------------------------------------------------------------

    @Test
    void boundEndpointReadsBackAndIsTheTransportUnderTest() throws Exception {
        try (DatagramSocket socket = bind(DatagramOptions.defaults())) {
            Endpoint bound = socket.localEndpoint();
            assertEquals(bound, Endpoint.parse(bound.toString()));
            assertTrue(bound.isDatagram());
            assertTrue(socket.remoteEndpoint().isEmpty(), "a bound socket has no peer");
            assertTrue(socket.toString().contains(transportId()), socket.toString());
            if (bound.isInet()) {
                assertTrue(bound.port() > 0, "port 0 was replaced by the real one: " + bound);
            }
        }
    }

    @Test
    void datagramArrivesWithItsSenderAndTheReplyComesBack() throws Exception {
        try (DatagramSocket server = bind(DatagramOptions.defaults());
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            assertEquals(
                    server.localEndpoint().withoutParameters(),
                    client.remoteEndpoint().orElseThrow());
            client.send("ping".getBytes(UTF_8));
            Datagram request = server.receive();
            assertEquals("ping", new String(request.payload(), UTF_8));
            assertEquals(client.localEndpoint(), request.sender().orElseThrow(), "the sender is the client");

            server.send(request.sender().orElseThrow(), "pong".getBytes(UTF_8));
            Datagram reply = client.receive();
            assertEquals("pong", new String(reply.payload(), UTF_8));
            assertEquals(
                    server.localEndpoint().withoutParameters(), reply.sender().orElseThrow());
        }
    }

    @Test
    void unconnectedSocketsSendToAnyEndpointOfTheirScheme() throws Exception {
        try (DatagramSocket first = bind(DatagramOptions.defaults());
                DatagramSocket second = bind(DatagramOptions.defaults())) {
            first.send(second.localEndpoint(), new byte[] {7});
            Datagram received = second.receive();
            assertArrayEquals(new byte[] {7}, received.payload());
            assertEquals(
                    first.localEndpoint().withoutParameters(), received.sender().orElseThrow());

            IllegalArgumentException otherScheme = assertThrows(
                    IllegalArgumentException.class,
                    () -> first.send(Endpoint.parse("tcp://127.0.0.1:9"), new byte[] {1}));
            assertTrue(
                    otherScheme
                            .getMessage()
                            .contains("sends to " + first.localEndpoint().scheme()),
                    otherScheme.getMessage());
            IllegalStateException unconnected =
                    assertThrows(IllegalStateException.class, () -> first.send(new byte[] {1}));
            assertTrue(unconnected.getMessage().contains("not connected"), unconnected.getMessage());
        }
    }

    @Test
    void connectedSocketSendsToItsPeerOnly() throws Exception {
        try (DatagramSocket server = bind(DatagramOptions.defaults());
                DatagramSocket other = bind(DatagramOptions.defaults());
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            IllegalStateException refused =
                    assertThrows(IllegalStateException.class, () -> client.send(other.localEndpoint(), new byte[] {1}));
            assertTrue(
                    refused.getMessage()
                            .contains("connected to " + server.localEndpoint().withoutParameters()),
                    refused.getMessage());
            client.send(server.localEndpoint(), new byte[] {2}); // its own peer, by name, is fine
            assertArrayEquals(new byte[] {2}, server.receive().payload());
        }
    }

    // ---- sizes --------------------------------------------------------------------------------

    @Test
    void everyDatagramArrivesWholeUpToTheLimit() throws Exception {
        try (DatagramSocket server = bind(DatagramOptions.defaults());
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            assertEquals(defaultMaxDatagramSize(), client.maxDatagramSize());
            for (int size : new int[] {1, 64, 1500, 9000, defaultMaxDatagramSize()}) {
                byte[] payload = randomBytes(size);
                client.send(payload);
                assertArrayEquals(payload, server.receive().payload(), size + " bytes");
            }
        }
    }

    @Test
    void anEmptyPayloadIsRefusedAndAnEmptyDatagramFromOutsideArrivesWhereTheTransportCanTakeIt() throws Exception {
        try (DatagramSocket server = bind(withReadTimeout(Duration.ofSeconds(20)));
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            IllegalArgumentException refused =
                    assertThrows(IllegalArgumentException.class, () -> client.send(new byte[0]));
            assertTrue(refused.getMessage().contains("cannot send an empty datagram"), refused.getMessage());
            assumeTrue(whyEmptyDatagramsAreDropped() == null, whyEmptyDatagramsAreDropped());
            assumeTrue(Files.isExecutable(PYTHON), "python3 is not installed at " + PYTHON);
            Endpoint bound = server.localEndpoint();
            CommandRun python = CommandRun.of(
                    new ProcessBuilder(
                            PYTHON.toString(),
                            "-c",
                            "import socket\n"
                                    + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                    + "s.sendto(b'', ('" + bound.host() + "', " + bound.port() + "))\n"
                                    + "s.sendto(b'after', ('" + bound.host() + "', " + bound.port() + "))\n"),
                    "");
            assertEquals(0, python.exit, python.toString());
            assertEquals(0, server.receive().length(), "the empty datagram, as an empty payload");
            assertEquals("after", new String(server.receive().payload(), UTF_8));
        }
    }

    @Test
    void aSendOverTheLimitFailsBeforeAnythingIsSent() throws Exception {
        DatagramOptions small = DatagramOptions.builder()
                .set(DatagramOptions.MAX_DATAGRAM_SIZE, 100)
                .build();
        try (DatagramSocket server = bind(DatagramOptions.defaults());
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint(), small)) {
            IllegalArgumentException refused =
                    assertThrows(IllegalArgumentException.class, () -> client.send(new byte[101]));
            assertTrue(
                    refused.getMessage().contains("101 bytes")
                            && refused.getMessage().contains("maxDatagramSize, 100 bytes"),
                    refused.getMessage());
            client.send(new byte[100]);
            assertEquals(100, server.receive().length(), "the socket stays usable, and nothing else was sent");
        }
    }

    @Test
    void aDatagramOverTheReceiversLimitIsDroppedWithAnErrorThatNamesItsSender() throws Exception {
        DatagramOptions small = DatagramOptions.builder()
                .set(DatagramOptions.MAX_DATAGRAM_SIZE, 100)
                .build();
        try (DatagramSocket server = bind(small);
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            client.send(new byte[101]);
            client.send(new byte[] {5, 6});
            ProtocolException dropped = assertThrows(ProtocolException.class, server::receive);
            assertTrue(
                    dropped.getMessage().contains("over maxDatagramSize (100 bytes)")
                            && dropped.getMessage()
                                    .contains(client.localEndpoint().toString()),
                    dropped.getMessage());
            assertArrayEquals(new byte[] {5, 6}, server.receive().payload(), "the next datagram is whole");
        }
    }

    @Test
    void aLimitOverWhatTheSystemCarriesIsRefusedWhenTheSocketIsMade() {
        DatagramOptions huge = DatagramOptions.builder()
                .set(DatagramOptions.MAX_DATAGRAM_SIZE, 16 * 1024 * 1024)
                .build();
        IllegalArgumentException refused =
                assertThrows(IllegalArgumentException.class, () -> bind(huge).close());
        assertTrue(refused.getMessage().contains("maxDatagramSize 16777216 is over"), refused.getMessage());
    }

    // ---- timeouts and close -------------------------------------------------------------------

    @Test
    void aReceiveTimesOutAndLeavesTheSocketUsable() throws Exception {
        try (DatagramSocket server = bind(withReadTimeout(Duration.ofMillis(200)));
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
            SocketTimeoutException timeout = assertThrows(SocketTimeoutException.class, server::receive);
            assertTrue(timeout.getMessage().contains("readTimeout"), timeout.getMessage());
            client.send(new byte[] {3});
            assertArrayEquals(new byte[] {3}, server.receive().payload());
        }
    }

    @Test
    void aSendToAReceiverThatStaysFullWaitsAtMostTheSendTimeout() throws Exception {
        assumeTrue(isReliable(), "UDP never holds a sender back: the kernel drops what does not fit");
        DatagramOptions impatient = DatagramOptions.builder()
                .set(DatagramOptions.SEND_TIMEOUT, Duration.ofMillis(300))
                .build();
        try (DatagramSocket server = bind(DatagramOptions.defaults());
                DatagramSocket client = Ipc.connectDatagram(server.localEndpoint(), impatient)) {
            int sent = 0;
            SocketTimeoutException full = null;
            while (full == null && sent < 1_000_000) {
                try {
                    client.send(new byte[] {(byte) sent});
                    sent++;
                } catch (SocketTimeoutException e) {
                    full = e;
                }
            }
            assertTrue(full != null, "the receiver never filled");
            assertTrue(
                    full.getMessage().contains("stayed full for sendTimeout")
                            && full.getMessage()
                                    .contains(server.localEndpoint()
                                            .withoutParameters()
                                            .toString()),
                    full.getMessage());
            for (int i = 0; i < sent; i++) {
                assertArrayEquals(new byte[] {(byte) i}, server.receive().payload(), "datagram " + i);
            }
            client.send(new byte[] {9});
            assertArrayEquals(new byte[] {9}, server.receive().payload(), "the timed-out datagram was not sent");
        }
    }

    @Test
    void closeWakesABlockedReceive() throws Exception {
        try (DatagramSocket server = bind(DatagramOptions.defaults())) {
            for (DatagramOptions options :
                    List.of(DatagramOptions.defaults(), withReadTimeout(Duration.ofSeconds(30)))) {
                closeWakesABlockedReceiveOn(bind(options));
                closeWakesABlockedReceiveOn(Ipc.connectDatagram(server.localEndpoint(), options));
            }
        }
    }

    private void closeWakesABlockedReceiveOn(DatagramSocket socket) throws Exception {
        CountDownLatch receiving = new CountDownLatch(1);
        Future<Datagram> receive = threads.submit(() -> {
            receiving.countDown();
            return socket.receive();
        });
        assertTrue(receiving.await(10, TimeUnit.SECONDS));
        socket.close();
        ExecutionException failed = assertThrows(ExecutionException.class, () -> receive.get(10, TimeUnit.SECONDS));
        assertTrue(failed.getCause() instanceof IOException, String.valueOf(failed.getCause()));
        assertFalse(socket.isOpen());
        socket.close(); // idempotent
        assertThrows(IOException.class, socket::receive, "a closed socket receives nothing");
        Endpoint destination = socket.remoteEndpoint().orElse(socket.localEndpoint());
        assertThrows(IOException.class, () -> socket.send(destination, new byte[] {1}));
    }

    // ---- delivery -----------------------------------------------------------------------------

    @Test
    void concurrentSendersEachDatagramArrivesWholeAndAtMostOnce() throws Exception {
        int senders = 4;
        int each = 200;
        try (DatagramSocket server = bind(withReadTimeout(Duration.ofSeconds(2)))) {
            Future<Set<String>> received = threads.submit(() -> {
                Set<String> seen = new HashSet<>();
                while (seen.size() < senders * each) {
                    Datagram datagram;
                    try {
                        datagram = server.receive();
                    } catch (SocketTimeoutException e) {
                        break; // UDP may have dropped the rest
                    }
                    assertTrue(seen.add(new String(datagram.payload(), UTF_8)), "a datagram arrived twice");
                }
                return seen;
            });
            List<Future<?>> sending = new ArrayList<>();
            for (int s = 0; s < senders; s++) {
                int sender = s;
                sending.add(threads.submit(() -> {
                    try (DatagramSocket client = Ipc.connectDatagram(server.localEndpoint())) {
                        for (int i = 0; i < each; i++) {
                            client.send(("sender " + sender + " datagram " + i).getBytes(UTF_8));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> future : sending) {
                future.get(30, TimeUnit.SECONDS);
            }
            Set<String> seen = received.get(30, TimeUnit.SECONDS);
            for (String payload : seen) {
                assertTrue(payload.matches("sender [0-3] datagram [0-9]+"), "mixed or cut: " + payload);
            }
            if (isReliable()) {
                assertEquals(senders * each, seen.size(), "a reliable transport loses nothing");
            } else {
                assertTrue(seen.size() > 0, "nothing arrived");
            }
        }
    }

    @Test
    void aSendToAnAddressNobodyHasBoundIsRefusedOnlyWhereTheTransportKnows() throws Exception {
        Endpoint nobody;
        try (DatagramSocket gone = bind(DatagramOptions.defaults())) {
            nobody = gone.localEndpoint().withoutParameters();
        }
        try (DatagramSocket socket = bind(DatagramOptions.defaults())) {
            if (isReliable()) {
                ConnectException refused =
                        assertThrows(ConnectException.class, () -> socket.send(nobody, new byte[] {1}));
                assertTrue(
                        refused.getMessage().contains(nobody.toString())
                                && refused.getMessage().contains("nobody is bound there"),
                        refused.getMessage());
                ConnectException connect = assertThrows(ConnectException.class, () -> Ipc.connectDatagram(nobody));
                assertTrue(connect.getMessage().contains(nobody.toString()), connect.getMessage());
            } else {
                socket.send(nobody, new byte[] {1}); // UDP cannot know: the datagram is lost
            }
        }
    }

    // ---- from outside the JVM -----------------------------------------------------------------

    @Test
    void aPlainSocketOutsideTheJvmExchangesDatagramsWithoutFraming() throws Exception {
        assumeTrue(Files.isExecutable(PYTHON), "python3 is not installed at " + PYTHON);
        try (DatagramSocket server = bind(withReadTimeout(Duration.ofSeconds(20)))) {
            Endpoint bound = server.localEndpoint();
            String family;
            String address;
            String own;
            if (bound.isInet()) {
                family = "socket.AF_INET";
                address = "('" + bound.host() + "', " + bound.port() + ")";
                own = "('127.0.0.1', 0)";
            } else {
                family = "socket.AF_UNIX";
                address = bound.isAbstract()
                        ? "'\\0" + bound.abstractName().orElseThrow() + "'"
                        : "'" + bound.path().orElseThrow() + "'";
                own = "'\\0ipc-python-" + ProcessHandle.current().pid() + "'";
            }
            String script = "import socket, sys\n"
                    + "s = socket.socket(" + family + ", socket.SOCK_DGRAM)\n"
                    + "s.bind(" + own + ")\n"
                    + "s.settimeout(20)\n"
                    + "s.sendto(b'hello from python', " + address + ")\n"
                    + "data, sender = s.recvfrom(65536)\n"
                    + "sys.stdout.write(data.decode())\n";
            Process python = new ProcessBuilder(PYTHON.toString(), "-c", script).start();
            try {
                Datagram datagram = server.receive();
                assertEquals("hello from python", new String(datagram.payload(), UTF_8));
                server.send(datagram.sender().orElseThrow(), "hello from java".getBytes(UTF_8));
                assertTrue(python.waitFor(30, TimeUnit.SECONDS), "python finished");
                String err = new String(python.getErrorStream().readAllBytes(), UTF_8);
                assertEquals(0, python.exitValue(), err);
                assertEquals(
                        "hello from java", new String(python.getInputStream().readAllBytes(), UTF_8));
            } finally {
                python.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    // ---- socket files -------------------------------------------------------------------------

    @Test
    void theSocketFileHasItsModeWhileBoundAndGoesAtClose() throws Exception {
        assumeTrue(usesSocketFiles(), "the abstract namespace and UDP have no socket file");
        DatagramSocket socket =
                bind(DatagramOptions.builder().set(ConnectionOptions.MODE, 0660).build());
        Path file = socket.localEndpoint().path().orElseThrow();
        try {
            assertEquals(
                    "rw-rw----",
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS)));
        } finally {
            socket.close();
        }
        assertFalse(Files.exists(file, LinkOption.NOFOLLOW_LINKS), "the socket file went at close");
    }

    @Test
    void aLiveSocketFileIsLeftAloneAndAStaleOneIsReclaimed() throws Exception {
        assumeTrue(usesSocketFiles(), "the abstract namespace and UDP have no socket file");
        assumeTrue(Files.isExecutable(PYTHON), "python3 is not installed at " + PYTHON);
        Endpoint endpoint = newEndpoint(directory);
        Path file = endpoint.path().orElseThrow();
        try (DatagramSocket live = Ipc.bindDatagram(endpoint)) {
            IOException refused = assertThrows(IOException.class, () -> Ipc.bindDatagram(endpoint));
            assertTrue(
                    refused.getMessage().contains(endpoint.withoutParameters().toString()), refused.getMessage());
            assertTrue(live.isOpen());
            try (DatagramSocket client = Ipc.connectDatagram(endpoint)) {
                client.send(new byte[] {9});
                assertArrayEquals(new byte[] {9}, live.receive().payload(), "the live socket still receives");
            }
        }
        // A process that dies leaves its socket file; the next bind takes it over.
        CommandRun crashed = CommandRun.of(
                new ProcessBuilder(
                        PYTHON.toString(),
                        "-c",
                        "import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('" + file + "')"),
                "");
        assertEquals(0, crashed.exit, crashed.toString());
        assertTrue(Files.exists(file, LinkOption.NOFOLLOW_LINKS), "python left its socket file");
        try (DatagramSocket reclaimed = Ipc.bindDatagram(endpoint);
                DatagramSocket client = Ipc.connectDatagram(endpoint)) {
            client.send(new byte[] {4});
            assertArrayEquals(new byte[] {4}, reclaimed.receive().payload());
        }
    }

    @Test
    void theFilesModeDecidesWhetherAnotherUserMaySend() throws Exception {
        assumeTrue(usesSocketFiles(), "the abstract namespace and UDP have no socket file");
        assumeTrue(
                Files.isExecutable(PYTHON)
                        && Files.isExecutable(Path.of("/usr/bin/setpriv"))
                        && "root".equals(System.getProperty("user.name")),
                "acting as uid 65534 needs root, setpriv (util-linux) and python3");
        // The way down to the socket must be open to the other user; the socket file's mode then decides.
        Set<PosixFilePermission> before = Files.getPosixFilePermissions(directories.root());
        Files.setPosixFilePermissions(directories.root(), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        try {
            for (int mode : new int[] {0600, 0666}) {
                try (DatagramSocket socket = bind(DatagramOptions.builder()
                        .set(ConnectionOptions.MODE, mode)
                        .set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(20))
                        .build())) {
                    Path file = socket.localEndpoint().path().orElseThrow().toAbsolutePath();
                    CommandRun run = CommandRun.of(
                            new ProcessBuilder(
                                    "/usr/bin/setpriv",
                                    "--reuid=65534",
                                    "--regid=65534",
                                    "--clear-groups",
                                    PYTHON.toString(),
                                    "-c",
                                    "import socket\n"
                                            + "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                            + "try:\n"
                                            + "    s.sendto(b'from nobody', '" + file + "')\n"
                                            + "    print('sent')\n"
                                            + "except PermissionError:\n"
                                            + "    print('refused')\n"),
                            "");
                    if (mode == 0600) {
                        assertEquals("refused", run.out.trim(), run.toString());
                    } else {
                        assertEquals("sent", run.out.trim(), run.toString());
                        Datagram datagram = socket.receive();
                        assertEquals("from nobody", new String(datagram.payload(), UTF_8));
                        assertTrue(datagram.sender().isEmpty(), "an unbound sender has no address");
                    }
                }
            }
        } finally {
            Files.setPosixFilePermissions(directories.root(), before);
        }
    }
}
