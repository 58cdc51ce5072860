package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcServer;
import dev.ipc.Listener;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.internal.Codec;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LogCapture;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ProtocolException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the shared-memory transport adds to the contract suite ({@link SharedMemoryContractTest}): how it is asked for,
 * granted and declined, its memory files, peers that misbehave from outside the JVM, and peers that die.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SharedMemoryTest {

    private static final Path SHM = Path.of("/dev/shm");

    @TempDir
    Path directory;

    private Endpoint endpoint(String query) {
        Endpoint endpoint = Endpoint.unix(directory.resolve("s.sock"));
        for (String pair : query.split("&")) {
            String[] parts = pair.split("=", 2);
            endpoint = endpoint.withParameter(parts[0], parts[1]);
        }
        return endpoint;
    }

    private static Endpoint asking(Endpoint listening, String mode) {
        return Endpoint.unix(listening.path().orElseThrow()).withParameter("sharedMemory", mode);
    }

    private static boolean shared(Connection connection) {
        return ((ChannelConnection) connection).isSharedMemory();
    }

    /** This process's memory files, by name: there should never be any, as they are deleted as soon as opened. */
    private static List<Path> memoryFiles(long pid) throws IOException {
        if (!Files.isDirectory(SHM)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(SHM)) {
            return files.filter(file -> file.getFileName().toString().startsWith("ipc-" + pid + "-"))
                    .collect(Collectors.toList());
        }
    }

    @Test
    void movesTheDataIntoSharedMemoryAndLeavesNoFileBehind() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=on"));
                Connection client = Ipc.connect(listener.endpoint());
                Connection server = listener.accept()) {
            assertTrue(shared(client) && shared(server));
            assertEquals(List.of(), memoryFiles(ProcessHandle.current().pid()));
            byte[] large = new byte[3 * 1024 * 1024 + 7]; // many times the ring: it wraps, the writer waits for room
            for (int i = 0; i < large.length; i++) {
                large[i] = (byte) (i * 31);
            }
            CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
                try {
                    client.send(large);
                    client.send("after".getBytes(UTF_8));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            assertArrayEquals(large, server.receive());
            assertEquals("after", new String(server.receive(), UTF_8));
            sending.get(10, TimeUnit.SECONDS);
            assertEquals(client.peer(), server.peer().equals(client.peer()) ? server.peer() : client.peer());
            assertEquals(ProcessHandle.current().pid(), server.peer().pid().orElseThrow());
        }
    }

    @Test
    void aSleepingReaderIsWokenByDataAndThenByTheClose() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=on&spin=0s"));
                Connection client = Ipc.connect(listener.endpoint());
                Connection server = listener.accept()) {
            CompletableFuture<byte[]> first = CompletableFuture.supplyAsync(() -> receive(client));
            awaitSleeping(client);
            server.send(new byte[] {7});
            assertArrayEquals(new byte[] {7}, first.get(10, TimeUnit.SECONDS));
            CompletableFuture<byte[]> end = CompletableFuture.supplyAsync(() -> receive(client));
            awaitSleeping(client);
            server.close();
            assertNull(end.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeWhileThisSideSleepsInAReadIsSeenByThePeer() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=on"));
                Connection client = Ipc.connect(listener.endpoint());
                Connection server = listener.accept()) {
            CompletableFuture<byte[]> serverRead = CompletableFuture.supplyAsync(() -> receive(server));
            CompletableFuture<byte[]> clientRead = CompletableFuture.supplyAsync(() -> receive(client));
            awaitSleeping(server);
            server.close();
            assertNull(clientRead.get(10, TimeUnit.SECONDS));
            assertThrows(Exception.class, () -> serverRead.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aListenerWithSharedMemoryOffDeclinesAtItsFirstReadSayingWhyAndServesTheSocket() throws Exception {
        try (LogCapture log = LogCapture.start();
                Listener listener = Ipc.listen(endpoint("backend=junixsocket"))) {
            // Such a listener answers at its first read, so the server reads while the client connects.
            CompletableFuture<byte[]> served = CompletableFuture.supplyAsync(() -> {
                try (Connection server = listener.accept()) {
                    byte[] message = server.receive();
                    server.send(message);
                    return message;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            try (Connection client = Ipc.connect(asking(listener.endpoint(), "on"))) {
                assertFalse(shared(client));
                log.await(Duration.ofSeconds(10), "using the socket", "sharedMemory=off");
                client.send(new byte[] {1, 2});
                assertArrayEquals(new byte[] {1, 2}, client.receive());
                assertArrayEquals(new byte[] {1, 2}, served.get(10, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void aJdkListenerDeclinesForWantOfDescriptorPassing() throws Exception {
        try (LogCapture log = LogCapture.start();
                Listener listener = Ipc.listen(endpoint("backend=jdk&sharedMemory=on"));
                Connection client = Ipc.connect(asking(listener.endpoint(), "on"));
                Connection server = listener.accept()) {
            assertFalse(shared(client));
            log.await(Duration.ofSeconds(10), "using the socket", "cannot pass descriptors");
            server.send(new byte[] {3});
            assertArrayEquals(new byte[] {3}, client.receive());
        }
    }

    @Test
    void aClientThatRequiresItFailsWhereDeclined() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("backend=junixsocket"))) {
            CompletableFuture<Connection> accepted = CompletableFuture.supplyAsync(() -> {
                try (Connection server = listener.accept()) {
                    server.receive(); // the first read answers the request
                    return server;
                } catch (IOException e) {
                    return null;
                }
            });
            IOException failure =
                    assertThrows(IOException.class, () -> Ipc.connect(asking(listener.endpoint(), "require")));
            assertTrue(failure.getMessage().contains("sharedMemory=require"), failure.getMessage());
            assertTrue(failure.getMessage().contains("sharedMemory=off"), failure.getMessage());
            accepted.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theJdkBackendCannotBeForcedWithRequire() {
        IllegalStateException failure = assertThrows(
                IllegalStateException.class, () -> Ipc.connect(endpoint("backend=jdk&sharedMemory=require")));
        assertTrue(failure.getMessage().contains("JDK's channels cannot send"), failure.getMessage());
    }

    @Test
    void aListenerThatRequiresItRefusesClientsThatDoNotAskWithAnError() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=require"));
                Connection client = Ipc.connect(asking(listener.endpoint(), "off"))) {
            client.send(new byte[] {1});
            byte[] error = client.receive();
            assertEquals(5, error[0], "an ERROR frame");
            assertTrue(new String(error, 7, error.length - 7, UTF_8).contains("requires shared memory"));
            assertNull(client.receive());
        }
    }

    @Test
    void firstBytesThatOnlyLookLikeARequestReachTheServerWhateverTheirSplit() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=on"));
                SocketChannel raw = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            raw.connect(UnixDomainSocketAddress.of(listener.endpoint().path().orElseThrow()));
            CompletableFuture<Connection> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return listener.accept();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            // 0xFF 'S' 'H' — a request so far — arrive one by one, then a byte that makes them data.
            for (byte b : new byte[] {(byte) 0xFF, 'S', 'H', 'X', 1, 2}) {
                raw.write(ByteBuffer.wrap(new byte[] {b}));
                Thread.sleep(20); // spacing, not a wait: each byte a read of its own, as a slow peer sends them
            }
            try (Connection server = accepted.get(10, TimeUnit.SECONDS)) {
                assertFalse(shared(server));
                byte[] first = server.input().readNBytes(6);
                assertArrayEquals(new byte[] {(byte) 0xFF, 'S', 'H', 'X', 1, 2}, first);
            }
        }
    }

    // ---- peers outside the JVM ----------------------------------------------------------------------

    @Test
    void aPythonClientWrittenFromTheProtocolEchoesThroughTheRings() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=on&spin=0s"))) {
            Process python = python(listener, "echo", "hello through shared memory");
            try (Connection server = listener.accept()) {
                assertTrue(shared(server));
                byte[] message = server.receive();
                assertEquals("hello through shared memory", new String(message, UTF_8));
                server.send(message);
                assertNull(server.receive(), "the client's end of output");
                server.shutdownOutput();
                assertTrue(python.waitFor(30, TimeUnit.SECONDS));
                String output = output(python);
                assertEquals(0, python.exitValue(), output);
                assertEquals("hello through shared memory", output.strip());
            } finally {
                JavaProcesses.reap(python);
            }
        }
    }

    @Test
    void aPeerThatPublishesAPositionOutOfBoundsBreaksOnlyItsOwnConnection() throws Exception {
        misbehave("overrun", "out of bounds");
    }

    @Test
    void aPeerThatCutsItsMemoryShortBreaksOnlyItsOwnConnection() throws Exception {
        misbehave("truncate", "became unreadable");
    }

    private void misbehave(String mode, String expected) throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=on&spin=0s"))) {
            Process python = python(listener, mode);
            try (Connection hostile = listener.accept();
                    Connection bystander = Ipc.connect(listener.endpoint());
                    Connection bystanderServer = listener.accept()) {
                assertTrue(shared(hostile));
                Throwable failure = assertThrows(Throwable.class, hostile::receive);
                // A fault in compiled code is reported a little after the access, and loads from the lost pages read
                // garbage until then: a truncated file may end that connection as the JVM's InternalError or as a
                // broken frame too; never as a crash, never on another connection.
                boolean truncated = expected.equals("became unreadable");
                assertTrue(
                        failure instanceof ProtocolException
                                        && failure.getMessage().contains(expected)
                                || truncated && (failure instanceof InternalError || failure instanceof IOException),
                        failure::toString);
                hostile.close();
                assertTrue(python.waitFor(30, TimeUnit.SECONDS));
                String output = output(python);
                assertEquals(0, python.exitValue(), output);
                bystander.send(new byte[] {9});
                assertArrayEquals(new byte[] {9}, bystanderServer.receive());
            } finally {
                JavaProcesses.reap(python);
            }
        }
    }

    @Test
    void aPythonClientIsToldWhyItWasDeclined() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("backend=junixsocket"))) {
            Process python = python(listener, "declined");
            try (Connection server = listener.accept()) {
                CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> receive(server));
                assertTrue(python.waitFor(30, TimeUnit.SECONDS));
                String output = output(python);
                assertEquals(0, python.exitValue(), output);
                assertTrue(output.contains("declined: this listener does not offer shared memory"), output);
                assertNull(read.get(10, TimeUnit.SECONDS));
            } finally {
                JavaProcesses.reap(python);
            }
        }
    }

    /**
     * A peer in shared memory that never reads its socket fills it with the server's wake-up bytes. A doorbell that
     * waited for room there held the server's reader, and its lock, for good; the watchdog then parked on that lock the
     * first time it timed the session out, and no timeout fired again for any connection of the server.
     */
    @Test
    void aPeerDeafToItsWakeUpsHoldsUpNoTimeoutOfAnyConnection() throws Exception {
        try (IpcServer server = IpcServer.builder(
                        endpoint("sharedMemory=on&spin=0s&idleTimeout=2s&handshakeTimeout=2s"))
                .handler(request -> request)
                .build()
                .start()) {
            Path socket = server.endpoint().path().orElseThrow();
            Process python = python(socket, "deaf");
            try {
                BufferedReader lines = new BufferedReader(new InputStreamReader(python.getInputStream(), UTF_8));
                assertEquals("READY", lines.readLine(), "the server took every request of the deaf peer");
                try (SocketChannel silent = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    // Past the hello, then silent: only the watchdog ends it.
                    silent.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 6, 1, 0x49, 0x50, 0x43, 0, 1}));
                    CompletableFuture<String> read = CompletableFuture.supplyAsync(() -> {
                        try {
                            ByteBuffer buffer = ByteBuffer.allocate(4096);
                            while (silent.read(buffer) >= 0) {
                                // to the end of the stream
                            }
                            return new String(buffer.array(), 0, buffer.position(), UTF_8);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
                    String said = read.get(20, TimeUnit.SECONDS);
                    assertTrue(said.contains("idleTimeout"), "an idle connection is timed out with its ERROR: " + said);
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (server.stats().connectionsOpen() > 0 && System.nanoTime() < deadline) {
                    TimeUnit.MILLISECONDS.sleep(20); // polling the server's count: nothing to wait on
                }
                assertEquals(0, server.stats().connectionsOpen(), "the deaf peer's connection, idle, was timed out");
            } finally {
                JavaProcesses.reap(python);
            }
        }
    }

    /** Each connection, and the server's stats, say which connections carry their bytes in shared memory. */
    @Test
    void connectionsAndStatsSayWhichAreInSharedMemory() throws Exception {
        try (IpcServer server = IpcServer.builder(endpoint("sharedMemory=on"))
                        .handler(request -> request)
                        .build()
                        .start();
                Connection shared = Ipc.connect(server.endpoint().withParameter("sharedMemory", "require"));
                Connection plain = Ipc.connect(server.endpoint().withParameter("sharedMemory", "off"))) {
            assertTrue(shared.isSharedMemory());
            assertFalse(plain.isSharedMemory());
            for (Connection connection : List.of(shared, plain)) {
                connection.send(Codec.hello(Codec.VERSION));
                assertEquals(Codec.WELCOME, connection.receive()[0]); // counted before its WELCOME was sent
            }
            assertEquals(2, server.stats().connectionsOpen());
            assertEquals(1, server.stats().connectionsInSharedMemory());
        }
    }

    /** A directory sent as the memory file, large enough to pass the size check, is declined with the reason. */
    @Test
    void aDirectoryForAMemoryFileIsDeclinedSayingWhy() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(python), "python3 is not installed at /usr/bin/python3");
        Path large = Files.createDirectory(directory.resolve("large"));
        for (int i = 0; i < 2000 && Files.size(large) < 16384; i++) {
            Files.createFile(large.resolve("a-file-with-a-rather-long-name-to-grow-the-directory-" + i));
        }
        assumeTrue(Files.size(large) >= 16384, "this file system does not report a directory's size as it grows");
        try (IpcServer server = IpcServer.builder(endpoint("sharedMemory=on"))
                .handler(request -> request)
                .build()
                .start()) {
            Process peer = new ProcessBuilder(
                            python.toString(),
                            "-c",
                            "import os, socket, struct, sys\n"
                                    + "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
                                    + "s.connect(sys.argv[1])\n"
                                    + "request = b'\\xffSHM' + struct.pack('>BBHII', 1, 0, 0, 4096, 0)\n"
                                    + "socket.send_fds(s, [request], [os.open(sys.argv[2], os.O_RDONLY)])\n"
                                    + "s.settimeout(10)\n"
                                    + "answer = s.recv(16, socket.MSG_WAITALL)\n"
                                    + "length = struct.unpack('>H', answer[6:8])[0]\n"
                                    + "print(answer[5], s.recv(length, socket.MSG_WAITALL).decode())\n",
                            server.endpoint().path().orElseThrow().toString(),
                            large.toString())
                    .redirectErrorStream(true)
                    .start();
            try {
                assertTrue(peer.waitFor(30, TimeUnit.SECONDS));
                String output = output(peer);
                assertTrue(output.startsWith("1 ") && output.contains("can't be mapped as a memory file"), output);
            } finally {
                JavaProcesses.reap(peer);
            }
        }
        try (Stream<Path> files = Files.list(large)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.delete(file);
            }
        }
    }

    private Process python(Listener listener, String... arguments) throws Exception {
        return python(listener.endpoint().path().orElseThrow(), arguments);
    }

    private Process python(Path socket, String... arguments) throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(python), "python3 is not installed at /usr/bin/python3");
        Path script = directory.resolve("shm_peer.py");
        if (!Files.exists(script)) {
            try (InputStream source = SharedMemoryTest.class.getResourceAsStream("/shm_peer.py")) {
                Files.copy(source, script);
            }
        }
        List<String> command = new ArrayList<>(List.of(python.toString(), script.toString(), socket.toString()));
        command.addAll(List.of(arguments));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    private static String output(Process process) throws IOException {
        return new String(process.getInputStream().readAllBytes(), UTF_8);
    }

    // ---- peers that die -------------------------------------------------------------------------------

    @Test
    void aServerKilledMidStreamIsAnEndOfStreamWithinASecondAndLeavesNoFile() throws Exception {
        Process peer = new ProcessBuilder(JavaProcesses.command(
                        SharedMemoryPeer.class.getName(),
                        "serve",
                        endpoint("sharedMemory=on").toString()))
                .start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(peer.getInputStream(), UTF_8));
            String ready = lines.readLine();
            assertTrue(ready != null && ready.startsWith("READY "), String.valueOf(ready));
            try (Connection client = Ipc.connect(asking(Endpoint.parse(ready.substring(6)), "require"))) {
                assertTrue(shared(client));
                assertTrue(client.receive().length > 0, "the stream runs");
                killedMidStream(peer, client);
            }
        } finally {
            JavaProcesses.reap(peer);
        }
    }

    @Test
    void aClientKilledMidStreamIsAnEndOfStreamWithinASecondAndLeavesNoFile() throws Exception {
        try (Listener listener = Ipc.listen(endpoint("sharedMemory=require"))) {
            Process peer = new ProcessBuilder(JavaProcesses.command(
                            SharedMemoryPeer.class.getName(),
                            "connect",
                            listener.endpoint().toString()))
                    .start();
            try (Connection server = listener.accept()) {
                assertTrue(shared(server));
                assertTrue(server.receive().length > 0, "the stream runs");
                killedMidStream(peer, server);
            } finally {
                JavaProcesses.reap(peer);
            }
        }
    }

    /** Kills the peer while this side reads its stream; the read must end within a second of the peer's death. */
    private static void killedMidStream(Process peer, Connection reading) throws Exception {
        long pid = peer.pid();
        CompletableFuture<Long> ended = CompletableFuture.supplyAsync(() -> {
            try {
                while (reading.receive() != null) {
                    // the stream goes on until the kill
                }
            } catch (IOException e) {
                // a lost connection is an end too
            }
            return System.nanoTime();
        });
        peer.destroyForcibly(); // SIGKILL
        assertTrue(peer.waitFor(10, TimeUnit.SECONDS));
        long died = System.nanoTime();
        long end = ended.get(10, TimeUnit.SECONDS);
        assertTrue(
                end - died < TimeUnit.SECONDS.toNanos(1),
                "the end of stream came " + TimeUnit.NANOSECONDS.toMillis(end - died) + " ms after the peer died");
        assertEquals(List.of(), memoryFiles(pid), "the dead peer's memory files");
        assertEquals(List.of(), memoryFiles(ProcessHandle.current().pid()), "this process's memory files");
    }

    // ---- helpers --------------------------------------------------------------------------------------

    /** Waits until a thread of this process sleeps on the connection's socket (its reader, after its spin). */
    private static void awaitSleeping(Connection connection) throws InterruptedException {
        for (int i = 0; i < 1000; i++) {
            boolean sleeping = Thread.getAllStackTraces().values().stream()
                    .anyMatch(stack -> stack.length > 0
                            && Stream.of(stack)
                                    .anyMatch(frame -> frame.getMethodName().equals("awaitSocket")));
            if (sleeping) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no reader went to sleep on " + connection);
    }

    private static byte[] receive(Connection connection) {
        try {
            return connection.receive();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
