package dev.ipc.tcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.ConnectionOptions;
import dev.ipc.Datagram;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.testkit.CommandRun;
import dev.ipc.testkit.LeakGate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** UDP endpoints against {@code socat}, and the loopback rule. */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpInteropTest {

    private static final Path SOCAT = Path.of("/usr/bin/socat");

    @TempDir
    Path directory;

    @Test
    void socatSendsBytesIntactAndReceivesWhatTheLibrarySends() throws Exception {
        assumeTrue(Files.isExecutable(SOCAT), SOCAT + " is not installed (Debian package socat)");
        byte[] payload = new byte[4000];
        new Random(18).nextBytes(payload);
        Path input = directory.resolve("payload.bin");
        Files.write(input, payload);
        try (DatagramSocket socket = Ipc.bindDatagram(
                Endpoint.udp("127.0.0.1", 0),
                DatagramOptions.builder()
                        .set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(20))
                        .build())) {
            int port = socket.localEndpoint().port();
            CommandRun socat = CommandRun.of(
                    new ProcessBuilder(SOCAT.toString(), "-u", "OPEN:" + input, "UDP-SENDTO:127.0.0.1:" + port), "");
            assertEquals(0, socat.exit, socat.toString());
            assertArrayEquals(payload, socket.receive().payload());

            // socat answers from its own port; the library replies to the sender it saw.
            Process echo = new ProcessBuilder(
                            SOCAT.toString(), "-T", "20", "STDIO", "UDP-SENDTO:127.0.0.1:" + port + ",bind=127.0.0.1")
                    .start();
            try {
                echo.getOutputStream().write("from socat".getBytes(UTF_8));
                echo.getOutputStream().flush();
                Datagram request = socket.receive();
                assertEquals("from socat", new String(request.payload(), UTF_8));
                socket.send(request.sender().orElseThrow(), "to socat".getBytes(UTF_8));
                byte[] read = echo.getInputStream().readNBytes("to socat".length());
                assertEquals("to socat", new String(read, UTF_8));
            } finally {
                echo.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aBindBeyondLoopbackIsRefusedUnlessAllowed() throws Exception {
        IllegalArgumentException refused =
                assertThrows(IllegalArgumentException.class, () -> Ipc.bindDatagram(Endpoint.udp("0.0.0.0", 0)));
        assertTrue(
                refused.getMessage().contains("refusing to bind udp://0.0.0.0:0 (every address of this host)")
                        && refused.getMessage().contains("allowInsecurePlaintext=true"),
                refused.getMessage());
        try (DatagramSocket socket = Ipc.bindDatagram(Endpoint.parse("udp://0.0.0.0:0?allowInsecurePlaintext=true"))) {
            assertTrue(socket.localEndpoint().port() > 0);
        }
    }

    @Test
    void aUdpLimitOverWhatIpv4CarriesIsRefused() {
        IllegalArgumentException refused = assertThrows(
                IllegalArgumentException.class,
                () -> Ipc.bindDatagram(Endpoint.parse("udp://127.0.0.1:0?maxDatagramSize=65508")));
        assertTrue(
                refused.getMessage().contains("over the most a UDP datagram carries over IPv4, 65507 bytes"),
                refused.getMessage());
    }
}
