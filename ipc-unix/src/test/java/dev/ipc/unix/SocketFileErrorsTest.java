package dev.ipc.unix;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.testkit.LeakGate;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Errors around socket files name the path and the cause, on both Unix backends. */
@ExtendWith(LeakGate.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SocketFileErrorsTest {

    @TempDir
    Path directory;

    private static Endpoint at(Path path, String backend) {
        return Endpoint.unix(path).withParameter("backend", backend);
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void connectingToNoFileSaysSo(String backend) {
        Path path = directory.resolve("none.sock");
        ConnectException e = assertThrows(
                ConnectException.class, () -> Ipc.connect(at(path, backend)).close());
        assertTrue(e.getMessage().contains("no socket file at " + path), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void connectingToARegularFileSaysItIsNotASocket(String backend) throws IOException {
        Path path = Files.writeString(directory.resolve("plain.sock"), "text");
        ConnectException e = assertThrows(
                ConnectException.class, () -> Ipc.connect(at(path, backend)).close());
        assertTrue(e.getMessage().contains(path + " is a regular file, not a socket"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void aStaleSocketFileIsReportedOnConnect(String backend) throws IOException {
        Path path = directory.resolve("stale.sock");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(path));
        } // the JDK leaves the file behind, as a crashed server would
        ConnectException refused = assertThrows(
                ConnectException.class, () -> Ipc.connect(at(path, backend)).close());
        assertTrue(refused.getMessage().contains("no process listens on it"), refused.getMessage());
        Files.delete(path);
    }
}
