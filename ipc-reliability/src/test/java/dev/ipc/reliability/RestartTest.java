package dev.ipc.reliability;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ClientOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.testkit.Background;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server killed with {@code kill -9} and started again, {@value #RESTARTS} times, while a client keeps calling: every
 * start reclaims the stale socket file the killed one left, the client reconnects, and no request runs twice (the
 * server logs each before it answers; the client never resends a call).
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RestartTest {

    static final int RESTARTS = Integer.getInteger("ipc.reliability.restarts", 50);

    @TempDir
    Path directory;

    @Test
    void survivesKillNineRestartsWithoutRunningARequestTwice() throws Exception {
        Path socket = directory.resolve("r.sock");
        Path log = directory.resolve("handled.log");
        Endpoint endpoint = Endpoint.parse("unix:" + socket);
        Set<String> answered = ConcurrentHashMap.newKeySet();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger sent = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        Semaphore answers = new Semaphore(0);
        long started = System.nanoTime();

        Process server = start(endpoint, log);
        ClientOptions options = ClientOptions.builder()
                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ofSeconds(10))
                .set(ClientOptions.CALL_TIMEOUT, Duration.ofSeconds(5))
                .build();
        CompletableFuture<Void> caller;
        try (IpcClient client = IpcClient.connect(endpoint, options)) {
            caller = Background.run("io", () -> {
                while (!stop.get()) {
                    String id = "call-" + sent.incrementAndGet();
                    try {
                        byte[] reply = client.call(id.getBytes(UTF_8));
                        assertEquals(id, new String(reply, UTF_8));
                        answered.add(id);
                        answers.release();
                    } catch (IOException e) {
                        failed.incrementAndGet(); // in flight when the server died: not resent
                    }
                }
            });
            for (int restart = 0; restart < RESTARTS; restart++) {
                // Let the client get some answers from this incarnation, then kill it mid-stream.
                answers.drainPermits();
                assertTrue(answers.tryAcquire(3, 30, TimeUnit.SECONDS), "the client reconnected and was answered");
                server.destroyForcibly(); // SIGKILL: no shutdown hook, the socket file stays
                assertTrue(server.waitFor(10, TimeUnit.SECONDS));
                JavaProcesses.reap(server);
                assertTrue(Files.exists(socket), "a killed server leaves its socket file");
                server = start(endpoint, log); // must reclaim it
            }
            answers.drainPermits();
            assertTrue(answers.tryAcquire(3, 30, TimeUnit.SECONDS), "answered after the last restart");
            stop.set(true);
            caller.get(30, TimeUnit.SECONDS);
            server.destroy(); // SIGTERM this time: a clean stop removes what it made
            assertTrue(server.waitFor(30, TimeUnit.SECONDS));
            assertTrue(
                    !Files.exists(socket) && !Files.exists(socket.resolveSibling("r.sock.lock")),
                    "no socket or lock file left behind after a clean stop");
        } finally {
            JavaProcesses.reap(server);
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);

        List<String> handled = Files.readAllLines(log, UTF_8);
        Set<String> unique = new HashSet<>(handled);
        assertEquals(handled.size(), unique.size(), "no request ran twice");
        assertTrue(unique.containsAll(answered), "every answered call was handled");
        System.out.printf(
                "RELIABILITY restarts=%d calls=%d answered=%d failed-in-flight=%d handled=%d ms=%d%n",
                RESTARTS, sent.get(), answered.size(), failed.get(), handled.size(), millis);
    }

    private static Process start(Endpoint endpoint, Path log) throws Exception {
        Process process = new ProcessBuilder(
                        JavaProcesses.command(RecordingServer.class.getName(), endpoint.toString(), log.toString()))
                .redirectErrorStream(true)
                .start();
        BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8));
        StringBuilder said = new StringBuilder();
        String ready = Background.call("io", () -> {
                    try {
                        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                            if (line.startsWith("READY ")) {
                                return line;
                            }
                            said.append(line).append('\n');
                        }
                        return null;
                    } catch (IOException e) {
                        return null;
                    }
                })
                .get(60, TimeUnit.SECONDS);
        assertTrue(
                ready != null,
                "the server started (and reclaimed the stale socket file); it said:\n" + said + "exit: "
                        + (process.isAlive() ? "still running" : process.exitValue()));
        // Keep draining its output, so that its log lines never fill the pipe.
        Background.run("io", () -> {
            try {
                while (lines.readLine() != null) {
                    // discarded
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        return process;
    }
}
