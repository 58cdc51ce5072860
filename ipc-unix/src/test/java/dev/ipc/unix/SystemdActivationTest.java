package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.testkit.Background;
import dev.ipc.testkit.EchoPeer;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Socket activation: end to end under systemd-socket-activate, and systemd's protocol checked. */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SystemdActivationTest {

    private static final Path ACTIVATOR = Path.of("/usr/bin/systemd-socket-activate");

    @TempDir
    Path directory;

    @ParameterizedTest
    @ValueSource(strings = {"systemd:api", "systemd:"})
    void servesOnTheSocketSystemdPasses(String endpoint) throws Exception {
        assumeTrue(Files.isExecutable(ACTIVATOR), "systemd-socket-activate (package systemd) is not installed");
        Path path = directory.resolve("activated.sock");
        List<String> command = new ArrayList<>(List.of(ACTIVATOR.toString(), "-l", path.toString(), "--fdname=api"));
        command.addAll(JavaProcesses.command(EchoPeer.class.getName(), endpoint));
        Process activator = new ProcessBuilder(command).start();
        try {
            BufferedReader log = new BufferedReader(new InputStreamReader(activator.getErrorStream(), UTF_8));
            String listening = Background.call("io", () -> readLine(log)).get(30, TimeUnit.SECONDS);
            assertTrue(listening != null && listening.startsWith("Listening on " + path), listening);

            // The first connection makes the activator start the server, which inherits the socket.
            try (Connection client = Ipc.connect(Endpoint.unix(path))) {
                byte[] message = "activated".getBytes(UTF_8);
                client.send(message);
                assertArrayEquals(message, client.receive());
                client.shutdownOutput();
                assertNull(client.receive());
            }
            BufferedReader out = new BufferedReader(new InputStreamReader(activator.getInputStream(), UTF_8));
            assertEquals(
                    "READY " + endpoint,
                    Background.call("io", () -> readLine(out)).get(30, TimeUnit.SECONDS));
            assertTrue(activator.waitFor(30, TimeUnit.SECONDS), "the server exits after its one connection");
            assertEquals(0, activator.exitValue());
            assertTrue(Files.exists(path), "the socket file is systemd's: the listener leaves it");
        } finally {
            activator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            Files.deleteIfExists(path);
        }
    }

    private static String readLine(BufferedReader reader) {
        try {
            return reader.readLine();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void refusesSocketsPassedToAnotherProcess() {
        SystemdListeners transport = new SystemdListeners(Map.of("LISTEN_PID", "1", "LISTEN_FDS", "1"));
        SocketException e = assertThrows(
                SocketException.class,
                () -> transport.listen(Endpoint.parse("systemd:"), ConnectionOptions.defaults()));
        assertTrue(e.getMessage().contains("LISTEN_PID is 1, not this process"), e.getMessage());
    }

    @Test
    void namesTheSocketsThereAreWhenANameIsMissing() {
        String pid = String.valueOf(ProcessHandle.current().pid());
        SystemdListeners transport =
                new SystemdListeners(Map.of("LISTEN_PID", pid, "LISTEN_FDS", "2", "LISTEN_FDNAMES", "api:admin"));
        SocketException e = assertThrows(
                SocketException.class,
                () -> transport.listen(Endpoint.parse("systemd:metrics"), ConnectionOptions.defaults()));
        assertTrue(e.getMessage().contains("no socket named 'metrics' (LISTEN_FDNAMES: api, admin)"), e.getMessage());

        SystemdListeners broken = new SystemdListeners(Map.of("LISTEN_PID", pid, "LISTEN_FDS", "many"));
        SocketException notANumber = assertThrows(
                SocketException.class, () -> broken.listen(Endpoint.parse("systemd:"), ConnectionOptions.defaults()));
        assertTrue(notANumber.getMessage().contains("LISTEN_FDS is not a number"), notANumber.getMessage());
    }

    @Test
    void saysHowToStartItWhenNothingWasPassed() {
        SocketException e = assertThrows(
                SocketException.class,
                () -> new SystemdListeners(Map.of()).listen(Endpoint.parse("systemd:"), ConnectionOptions.defaults()));
        assertTrue(e.getMessage().contains("this process was given no sockets"), e.getMessage());
        assertTrue(e.getMessage().contains("systemd-socket-activate"), e.getMessage());
    }

    @Test
    void isForListeningOnly() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Ipc.connect(Endpoint.parse("systemd:api")));
        assertTrue(e.getMessage().contains("connect to the socket's own path"), e.getMessage());
    }

    @Test
    void saysWhetherItCanWorkInThisProcess() {
        String pid = String.valueOf(ProcessHandle.current().pid());
        // Standard input needs only the JDK; descriptors by number need junixsocket, which this module's tests have.
        assertTrue(new SystemdListeners(Map.of()).isAvailable());
        SystemdListeners passed = new SystemdListeners(Map.of("LISTEN_PID", pid, "LISTEN_FDS", "1"));
        assertTrue(passed.isAvailable(), () -> passed.unavailabilityCause().toString());
        assertTrue(passed.unavailabilityCause().isEmpty());
    }
}
