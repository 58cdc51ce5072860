package dev.ipc.reliability;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.testkit.Background;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.ServerPeer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer that declares a large frame and sends a few bytes of it costs the server those bytes, not the frame: 200
 * connections each declare 4 MiB (the default limit) and send 10 bytes to a server in a child JVM with a 64 MiB heap,
 * which would need 800 MiB if it allocated what was declared. It must not run out of memory, and a good client's calls
 * succeed throughout.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MemoryTest extends OnEachTransport {

    private static final int PEERS = 200;
    private static final int NON_READING = 10;
    private static final int DECLARED = 4 * 1024 * 1024 + 5; // the largest frame the default limit takes

    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void aDeclaredFrameCostsOnlyTheBytesThatArrived(String transport) throws Exception {
        List<String> jvm = List.of("-Xmx64m", "-XX:+ExitOnOutOfMemoryError");
        Process server = new ProcessBuilder(JavaProcesses.command(
                        jvm, ServerPeer.class.getName(), endpoint(transport).toString()))
                .redirectErrorStream(true)
                .start();
        List<Connection> peers = new ArrayList<>();
        try {
            Endpoint endpoint = awaitReady(server);
            byte[] start = ByteBuffer.allocate(14)
                    .putInt(DECLARED)
                    .put((byte) 3)
                    .putInt(1)
                    .put(new byte[] {1, 2, 3, 4, 5})
                    .array();
            try (IpcClient good = IpcClient.connect(endpoint)) {
                for (int i = 0; i < PEERS; i++) {
                    welcomed(endpoint, peers).output().write(start);
                    byte[] call = ("good " + i).getBytes(UTF_8);
                    assertArrayEquals(call, good.call(call), "a good client is served meanwhile");
                }
                int calls = goodCallsFor(good, 2);
                assertTrue(server.isAlive(), "the server did not run out of memory");
                System.out.printf(
                        Locale.ROOT,
                        "RELIABILITY memory %s: %d peers each declared %d bytes and sent 10, server heap 64 MiB;"
                                + " alive, %d good calls in the 2 s after%n",
                        transport,
                        PEERS,
                        DECLARED,
                        calls);
            }
        } finally {
            for (Connection peer : peers) {
                peer.close();
            }
            JavaProcesses.reap(server);
            // Killed, the server leaves its socket and lock files, as a crash would; the next start reclaims them.
            Files.deleteIfExists(directory.resolve("s.sock"));
            Files.deleteIfExists(directory.resolve("s.sock.lock"));
        }
    }

    /**
     * The budget under load: 1,000 peers each declare 4 MiB and send 10 bytes, and 10 clients send 4 MiB requests
     * without ever reading a reply, against a server with a 256 MiB heap (a budget of a quarter of it). The server
     * keeps what fits, drops the rest with TOO_MANY_REQUESTS, never runs out of memory, and a good client's calls
     * succeed throughout, on JDK 17's eight platform workers too (a worker stuck writing to a client that reads nothing
     * is replaced).
     */
    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void nonReadingClientsAndHalfSentFramesStayWithinTheBudget(String transport) throws Exception {
        List<String> jvm = List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError");
        // 1,010 connections of one peer, past its default 512: the budget is what is under test here.
        Endpoint unlimited = endpoint(transport).withParameter("maxConnectionsPerPeer", "0");
        Process server = new ProcessBuilder(
                        JavaProcesses.command(jvm, ServerPeer.class.getName(), unlimited.toString()))
                .redirectErrorStream(true)
                .start();
        List<Connection> peers = new ArrayList<>();
        ExecutorService senders = Executors.newCachedThreadPool();
        try {
            Endpoint endpoint = awaitReady(server).withoutParameters(); // the server's option, not a client's
            byte[] start = ByteBuffer.allocate(14)
                    .putInt(DECLARED)
                    .put((byte) 3)
                    .putInt(1)
                    .put(new byte[] {1, 2, 3, 4, 5})
                    .array();
            AtomicInteger sent = new AtomicInteger();
            try (IpcClient good = IpcClient.connect(endpoint)) {
                sendWithoutReading(endpoint, peers, senders, sent);
                long slowest = 0;
                for (int i = 0; i < 1000; i++) {
                    welcomed(endpoint, peers).output().write(start);
                    if (i % 50 == 0) {
                        byte[] call = ("good " + i).getBytes(UTF_8);
                        long started = System.nanoTime();
                        assertArrayEquals(call, good.call(call), "a good client is served meanwhile");
                        slowest = Math.max(slowest, System.nanoTime() - started);
                    }
                }
                int calls = goodCallsFor(good, 3);
                assertTrue(server.isAlive(), "the server did not run out of memory");
                System.out.printf(
                        Locale.ROOT,
                        "RELIABILITY memory budget %s: 1000 half-sent 4 MiB frames, %d non-reading clients sent %d"
                                + " requests of 4 MiB, server heap 256 MiB; alive, good calls meanwhile slowest %d ms,"
                                + " %d good calls in the 3 s after%n",
                        transport,
                        NON_READING,
                        sent.get(),
                        TimeUnit.NANOSECONDS.toMillis(slowest),
                        calls);
            }
        } finally {
            release(peers, senders, server);
        }
    }

    /**
     * A frame after the hello that is not a request was released from the budget twice, once read and again refused: a
     * hundred refused frames of 4 MiB, then ten clients sending requests of 4 MiB and reading nothing, brought a 256
     * MiB server down with OutOfMemoryError (issue 27, case 1). Now the budget holds.
     */
    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void refusedFramesDoNotWidenTheBudget(String transport) throws Exception {
        List<String> jvm = List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError");
        Process server = new ProcessBuilder(JavaProcesses.command(
                        jvm, ServerPeer.class.getName(), endpoint(transport).toString()))
                .redirectErrorStream(true)
                .start();
        List<Connection> peers = new ArrayList<>();
        ExecutorService senders = Executors.newCachedThreadPool();
        try {
            Endpoint endpoint = awaitReady(server);
            byte[] refused = new byte[4 + DECLARED];
            ByteBuffer.wrap(refused).putInt(DECLARED).put((byte) 99); // no such type: refused with PROTOCOL_ERROR
            for (int i = 0; i < 100; i++) {
                Connection peer = welcomed(endpoint, peers);
                peer.output().write(refused);
                byte[] error = peer.receive();
                assertEquals(5, error[0], "the ERROR that refuses it");
                peer.close();
            }
            AtomicInteger sent = new AtomicInteger();
            try (IpcClient good = IpcClient.connect(endpoint)) {
                sendWithoutReading(endpoint, peers, senders, sent);
                int calls = goodCallsFor(good, 3);
                assertTrue(server.isAlive(), "the server did not run out of memory");
                System.out.printf(
                        Locale.ROOT,
                        "RELIABILITY refused frames %s: 100 refused frames of 4 MiB, then %d non-reading clients sent"
                                + " %d requests of 4 MiB, server heap 256 MiB; alive, %d good calls in 3 s%n",
                        transport,
                        NON_READING,
                        sent.get(),
                        calls);
            }
        } finally {
            release(peers, senders, server);
        }
    }

    /** Closes the peers, stops their senders, and reaps the server with what it left in the directory. */
    private void release(List<Connection> peers, ExecutorService senders, Process server) throws Exception {
        for (Connection peer : peers) {
            peer.close();
        }
        senders.shutdownNow();
        JavaProcesses.reap(server);
        Files.deleteIfExists(directory.resolve("s.sock"));
        Files.deleteIfExists(directory.resolve("s.sock.lock"));
    }

    /** {@link #NON_READING} clients each send 40 requests of 4 MiB and read nothing, each from a thread of its own. */
    private static void sendWithoutReading(
            Endpoint endpoint, List<Connection> peers, ExecutorService senders, AtomicInteger sent) throws IOException {
        for (int i = 0; i < NON_READING; i++) {
            Connection heavy = welcomed(endpoint, peers);
            senders.submit(() -> {
                byte[] framed = new byte[4 + DECLARED];
                ByteBuffer.wrap(framed).putInt(DECLARED).put((byte) 3);
                for (int id = 1; id <= 40; id++) {
                    ByteBuffer.wrap(framed, 5, 4).putInt(id);
                    // Blocks once the server stops reading this one; the close at the end ends it.
                    heavy.output().write(framed);
                    sent.incrementAndGet();
                }
                return null;
            });
        }
    }

    /** Calls for {@code seconds}, each call checked; how many there were. */
    private static int goodCallsFor(IpcClient good, int seconds) throws IOException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        int calls = 0;
        while (System.nanoTime() < until) {
            assertArrayEquals(new byte[] {7}, good.call(new byte[] {7}), "a good client is served after");
            calls++;
        }
        return calls;
    }

    private static Connection welcomed(Endpoint endpoint, List<Connection> peers) throws IOException {
        Connection peer = Ipc.connect(endpoint);
        peers.add(peer);
        peer.send(new byte[] {1, 0x49, 0x50, 0x43, 0, 2});
        assertEquals(2, peer.receive()[0], "WELCOME");
        return peer;
    }

    private static Endpoint awaitReady(Process server) throws Exception {
        BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), UTF_8));
        String ready = Background.call("io", () -> {
                    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                        if (line.startsWith("READY ")) {
                            return line.substring("READY ".length());
                        }
                    }
                    return null;
                })
                .get(60, TimeUnit.SECONDS);
        assertTrue(ready != null, "the server started");
        Background.run("io", () -> drain(lines)); // its log, so that it never blocks on a full pipe
        return Endpoint.parse(ready);
    }

    private static void drain(BufferedReader lines) {
        try {
            while (lines.readLine() != null) {
                // the server's log, unread
            }
        } catch (IOException e) {
            // the server is gone
        }
    }
}
