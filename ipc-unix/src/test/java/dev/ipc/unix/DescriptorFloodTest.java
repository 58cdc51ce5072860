package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.ServerOptions;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.OpenDescriptors;
import dev.ipc.testkit.OtherUser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Descriptors a peer attaches to its bytes (issue 27, case 2): a connection of junixsocket's takes none it was not told
 * to take, so neither a peer the access policy refuses (uid 65534, through {@code setpriv}) nor an admitted one can
 * make the server hold descriptors. Each peer is a Python process attaching 250 descriptors to every message.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DescriptorFloodTest {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final int CONNECTIONS = 30;

    private Path directory;
    private IpcServer server;

    @BeforeEach
    void start() throws IOException {
        assumeTrue(Files.isExecutable(PYTHON), "python3 is not installed at " + PYTHON);
        directory = Files.createTempDirectory("ipcf");
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path script = directory.resolve("fd_flood.py");
        try (InputStream source = DescriptorFloodTest.class.getResourceAsStream("/fd_flood.py")) {
            Files.copy(source, script);
        }
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));
        server = IpcServer.builder(Endpoint.unix(directory.resolve("s.sock")).withParameter("backend", "junixsocket"))
                .options(ServerOptions.builder()
                        .connection(ConnectionOptions.builder()
                                .set(ConnectionOptions.MODE, 0666) // others may connect; the policy (same user) decides
                                .build())
                        .build())
                .handler(request -> request)
                .build()
                .start();
    }

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
        if (directory != null) {
            Files.deleteIfExists(directory.resolve("fd_flood.py"));
            Files.deleteIfExists(directory);
        }
    }

    @Test
    void anAdmittedPeerMakesTheServerHoldNoDescriptor() throws Exception {
        flood(List.of(), "admitted");
    }

    @Test
    void aPeerTheAccessPolicyRefusesMakesTheServerHoldNoDescriptor() throws Exception {
        OtherUser.assumeAvailable();
        flood(OtherUser.command(), "refused");
    }

    /**
     * Runs the Python peer as {@code prefix} says, watching this process's open descriptors until every connection has
     * sent; then a good client is served, and once the peer is gone the leak gate finds nothing held.
     */
    private void flood(List<String> prefix, String mode) throws Exception {
        long before = OpenDescriptors.count();
        AtomicLong most = new AtomicLong(before);
        AtomicBoolean watching = new AtomicBoolean(true);
        CompletableFuture<Void> watcher = CompletableFuture.runAsync(() -> {
            try {
                while (watching.get()) {
                    most.accumulateAndGet(OpenDescriptors.count(), Math::max);
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // a sampling interval, not a wait
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(
                PYTHON.toString(),
                directory.resolve("fd_flood.py").toString(),
                server.endpoint().path().orElseThrow().toString(),
                Integer.toString(CONNECTIONS),
                mode));
        Process peer = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(peer.getInputStream(), UTF_8));
            assertEquals("SENT", lines.readLine(), "the peer sent its descriptors");
            watching.set(false);
            watcher.get(30, TimeUnit.SECONDS);
            // Each connection costs the server its socket and a few descriptors of its own, never the peer's 250s.
            assertTrue(
                    most.get() - before < 5L * CONNECTIONS,
                    "open descriptors went from " + before + " to " + most.get() + " while " + CONNECTIONS + " " + mode
                            + " connections attached 250 descriptors to each message");
            try (IpcClient client = IpcClient.connect(server.endpoint())) {
                assertArrayEquals("still served".getBytes(UTF_8), client.call("still served".getBytes(UTF_8)));
            }
        } finally {
            watching.set(false);
            peer.getOutputStream().close();
            assertTrue(peer.waitFor(30, TimeUnit.SECONDS));
            JavaProcesses.reap(peer);
        }
    }
}
