package dev.ipc.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.LogCapture;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** What is particular to TCP: address families, names, and binding only the address asked for. */
@ExtendWith(LeakGate.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TcpTransportTest {

    private static void echo(Endpoint endpoint) throws IOException {
        try (Listener listener = Ipc.listen(endpoint);
                Connection client = Ipc.connect(listener.endpoint());
                Connection server = listener.accept()) {
            client.send(new byte[] {4, 2});
            server.send(server.receive());
            assertArrayEquals(new byte[] {4, 2}, client.receive());
            assertEquals(listener.endpoint(), server.localEndpoint());
        }
    }

    @Test
    void servesIpv6Loopback() throws IOException {
        assumeTrue(ipv6LoopbackWorks(), "this machine has no IPv6 loopback");
        echo(Endpoint.parse("tcp://[::1]:0"));
    }

    @Test
    void servesAHostName() throws IOException {
        echo(Endpoint.parse("tcp://localhost:0"));
    }

    @Test
    void bindsOnlyTheAddressItWasGiven() throws IOException {
        try (Listener listener = Ipc.listen(Endpoint.parse("tcp://127.0.0.1:0"))) {
            int port = listener.endpoint().port();
            // 127.0.0.2 is loopback too, but not the address bound.
            ConnectException refused = assertThrows(
                    ConnectException.class,
                    () -> Ipc.connect(Endpoint.tcp("127.0.0.2", port)).close());
            assertTrue(refused.getMessage().contains("tcp://127.0.0.2:" + port), refused.getMessage());
            assertTrue(refused.getMessage().contains("nothing listens on that port"), refused.getMessage());
        }
    }

    @Test
    void aPortTakenByAnotherSocketIsNamedInTheError() throws IOException {
        try (ServerSocket other = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Endpoint taken = Endpoint.tcp("127.0.0.1", other.getLocalPort());
            BindException e =
                    assertThrows(BindException.class, () -> Ipc.listen(taken).close());
            assertTrue(
                    e.getMessage().contains(taken.toString()) && e.getMessage().contains("another socket holds"),
                    e.getMessage());
        }
    }

    @Test
    void refusesToListenBeyondLoopbackWithoutTlsAndSaysHowToAllowIt() {
        for (String text : new String[] {"tcp://0.0.0.0:0", "tcp://[::]:0"}) {
            IllegalArgumentException refused = assertThrows(
                    IllegalArgumentException.class,
                    () -> Ipc.listen(Endpoint.parse(text)).close());
            assertTrue(
                    refused.getMessage().contains("without TLS")
                            && refused.getMessage().contains("tls://")
                            && refused.getMessage().contains("allowInsecurePlaintext=true"),
                    refused.getMessage());
        }
    }

    @Test
    void listensBeyondLoopbackWhenToldToAndWarns() throws Exception {
        try (LogCapture log = LogCapture.start();
                Listener listener = Ipc.listen(Endpoint.parse("tcp://0.0.0.0:0?allowInsecurePlaintext=true"))) {
            assertTrue(listener.endpoint().port() > 0);
            String warning = log.await(Duration.ofSeconds(5), "WARN", "without TLS");
            assertTrue(warning.contains("anyone who can reach the port may connect"), warning);
            try (Connection client = Ipc.connect(
                            Endpoint.tcp("127.0.0.1", listener.endpoint().port()));
                    Connection server = listener.accept()) {
                client.send(new byte[] {1});
                assertArrayEquals(new byte[] {1}, server.receive());
            }
        }
    }

    private static boolean ipv6LoopbackWorks() {
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
