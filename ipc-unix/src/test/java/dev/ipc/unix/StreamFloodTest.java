package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.AccessPolicy;
import dev.ipc.ClientOptions;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.ServerOptions;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.OtherUser;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One peer's streams can't starve everyone (issue 27, case 3): uid 65534, through {@code setpriv}, asks for 256 streams
 * over eight connections of a daemon whose handlers hold their stream open; it gets maxStreamsPerPeer (128) of them and
 * the rest are refused with the reason, and root's plain calls are served meanwhile, within a second on the machines
 * this was written on (the bound asserted is the call's own timeout).
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StreamFloodTest {

    @Test
    void onePeersStreamsAreBoundedAndOthersCallsGoOn() throws Exception {
        OtherUser.assumeAvailable();
        Path run = Files.createTempDirectory("ipcw");
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path script = run.resolve("stream_flood.py");
        try (InputStream source = StreamFloodTest.class.getResourceAsStream("/stream_flood.py")) {
            Files.copy(source, script);
        }
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));
        CountDownLatch stop = new CountDownLatch(1);
        IpcServer server = IpcServer.builder(Endpoint.unix(run.resolve("w.sock")))
                .options(ServerOptions.builder()
                        .connection(ConnectionOptions.builder()
                                .set(ConnectionOptions.MODE, 0666)
                                .set(ConnectionOptions.ACCESS, AccessPolicy.anyone())
                                .build())
                        .build())
                .requestHandler(request -> {
                    if (!request.acceptsStream()) {
                        return request.payload();
                    }
                    request.openStream().send("watching".getBytes(UTF_8)); // then held, as a watch is
                    request.onCancel(stop::countDown);
                    stop.await(60, TimeUnit.SECONDS);
                    return null;
                })
                .build()
                .start();
        Process nobody = new ProcessBuilder(OtherUser.python(
                        script.toString(),
                        server.endpoint().path().orElseThrow().toString(),
                        "8",
                        "32"))
                .redirectErrorStream(true)
                .start();
        try (server;
                IpcClient client = IpcClient.connect(
                        server.endpoint(),
                        ClientOptions.builder()
                                .set(ClientOptions.CALL_TIMEOUT, Duration.ofSeconds(10))
                                .build())) {
            BufferedReader lines = new BufferedReader(new InputStreamReader(nobody.getInputStream(), UTF_8));
            String counts = lines.readLine();
            String why = lines.readLine();
            assertEquals("OPEN 128 REFUSED 128", counts, why);
            assertTrue(why.contains("uid 65534") && why.contains("maxStreamsPerPeer"), why);
            for (int i = 0; i < 20; i++) {
                assertArrayEquals("get".getBytes(UTF_8), client.call("get".getBytes(UTF_8)));
            }
        } finally {
            stop.countDown();
            nobody.getOutputStream().close();
            assertTrue(nobody.waitFor(30, TimeUnit.SECONDS));
            JavaProcesses.reap(nobody);
            Files.deleteIfExists(script);
            Files.deleteIfExists(run);
        }
    }
}
