package dev.ipc.reliability;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ClientOptions;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.testkit.Background;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.ServerPeer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server in a child JVM limited to 256 descriptors ({@code ulimit -n 256}), and 400 clients: the accept loop backs
 * off instead of spinning (its CPU stays low while accepts fail), the listener stays open, and service resumes once
 * clients leave.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DescriptorLimitTest {

    private static final int CLIENTS = 400;

    @TempDir
    Path directory;

    @Test
    void backsOffWhenOutOfDescriptorsAndRecovers() throws Exception {
        Endpoint endpoint = Endpoint.parse("unix:" + directory.resolve("limited.sock"));
        List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -n 256 && exec \"$@\"", "limited"));
        command.addAll(JavaProcesses.command(ServerPeer.class.getName(), endpoint.toString()));
        Process server = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<IpcClient> connected = new ArrayList<>();
        ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), UTF_8));
            String ready = Background.call("io", () -> {
                        for (String line = readLine(lines); line != null; line = readLine(lines)) {
                            if (line.startsWith("READY ")) {
                                return line;
                            }
                        }
                        return null;
                    })
                    .get(60, TimeUnit.SECONDS);
            assertTrue(ready != null, "the server started");
            CountDownLatch acceptFailed = new CountDownLatch(1);
            Background.run("io", () -> {
                for (String line = readLine(lines); line != null; line = readLine(lines)) {
                    if (line.contains("accepting on") && line.contains("failed")) {
                        acceptFailed.countDown(); // the server's own word that it ran out of descriptors
                    }
                }
            });

            ClientOptions options = ClientOptions.builder()
                    .set(ConnectionOptions.HANDSHAKE_TIMEOUT, Duration.ofSeconds(8))
                    .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                    .build();
            List<Future<IpcClient>> attempts = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                attempts.add(threads.submit(() -> IpcClient.connect(endpoint, options)));
            }
            // While the clients beyond the limit wait in the backlog, accept() fails with EMFILE.
            assertTrue(acceptFailed.await(60, TimeUnit.SECONDS), "the server ran out of descriptors");
            long before = cpuTicks(server.pid());
            TimeUnit.SECONDS.sleep(2); // a rate needs a window of time
            double cpu = (cpuTicks(server.pid()) - before) / 100.0 / 2;
            int served = 0;
            int refused = 0;
            for (Future<IpcClient> attempt : attempts) {
                try {
                    connected.add(attempt.get(60, TimeUnit.SECONDS));
                    served++;
                } catch (ExecutionException e) {
                    refused++;
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "RELIABILITY descriptors: ulimit -n 256, %d clients: %d connected, %d timed out "
                            + "in the backlog; server CPU while accepts failed %.0f%% of a core%n",
                    CLIENTS,
                    served,
                    refused,
                    cpu * 100);
            assertTrue(refused > 0, "the limit was reached");
            assertTrue(cpu < 0.5, "the accept loop does not spin: " + cpu);

            for (IpcClient client : connected) {
                client.close();
            }
            connected.clear();
            try (IpcClient after = IpcClient.connect(
                    endpoint,
                    ClientOptions.builder()
                            .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ofSeconds(20))
                            .build())) {
                assertArrayEquals("back".getBytes(UTF_8), after.call("back".getBytes(UTF_8)), "service resumed");
            }
            assertTrue(server.isAlive(), "the server kept going");
        } finally {
            threads.shutdownNow();
            for (IpcClient client : connected) {
                client.close();
            }
            JavaProcesses.reap(server);
        }
    }

    private static String readLine(BufferedReader lines) {
        try {
            return lines.readLine();
        } catch (IOException e) {
            return null;
        }
    }

    /** User plus system CPU time of a process, in clock ticks (1/100 s on Linux). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }
}
