package dev.ipc.tcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.PeerCredentials;
import dev.ipc.RemoteException;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.LogCapture;
import dev.ipc.testkit.TestCertificates;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every way a TLS connection is refused: each ends with a clear error on the client and a log line on the server that
 * names the cause, no request of the refused client reaches the handler, and a good client on the same server is served
 * before and after.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsRefusalTest {

    private static final Duration LOG_WAIT = Duration.ofSeconds(10);

    private TestCertificates certificates;
    private final Queue<String> handled = new ConcurrentLinkedQueue<>();
    private IpcServer server;
    private IpcClient good;
    private LogCapture log;

    @BeforeEach
    void startServer() throws IOException {
        certificates = TestCertificates.get();
        log = LogCapture.start();
        server = IpcServer.builder(Endpoint.parse("tls://localhost:0?"
                        + certificates.query(certificates.serverKeyStore()) + "&clientAuth=required"))
                .handler(request -> {
                    handled.add(new String(request, UTF_8));
                    return request;
                })
                .build()
                .start();
        good = IpcClient.connect(client(certificates.clientKeyStore(), ""));
        assertGoodClientServed();
    }

    @AfterEach
    void stopServer() throws IOException {
        try {
            assertGoodClientServed();
            assertTrue(
                    handled.stream().allMatch("good"::equals),
                    "a refused client's request reached the handler: " + handled);
        } finally {
            good.close();
            server.close();
            log.close();
        }
    }

    private void assertGoodClientServed() throws IOException {
        assertArrayEquals("good".getBytes(UTF_8), good.call("good".getBytes(UTF_8)));
    }

    /** The server's endpoint for a client with this key store (null for none) and more query. */
    private Endpoint client(Path keyStore, String more) {
        String query = keyStore == null ? "trustCertificates=" + certificates.caPem() : certificates.query(keyStore);
        return Endpoint.parse(server.endpoint().withoutParameters() + "?" + query + more);
    }

    private IOException refused(Endpoint endpoint) {
        return assertThrows(IOException.class, () -> {
            try (IpcClient client = IpcClient.connect(endpoint)) {
                client.call("refused".getBytes(UTF_8));
            }
        });
    }

    /** A refused client certificate, as the client learns of it: from the alert, or, when a write beat it, the hint. */
    private static void assertRefusedCertificate(Throwable error, String why) {
        String message = String.valueOf(error.getMessage());
        assertTrue(message.contains(why) || message.contains("right after the handshake"), error.toString());
    }

    private static void assertMentions(Throwable error, String... parts) {
        for (String part : parts) {
            assertTrue(String.valueOf(error.getMessage()).contains(part), error + " should mention: " + part);
        }
    }

    @Test
    void theGoodClientKnowsTheServerByItsCertificateAndTheServerKnowsTheClient() throws Exception {
        try (var connection = Ipc.connect(client(certificates.clientKeyStore(), ""))) {
            assertEquals(PeerCredentials.ofPrincipal("CN=localhost"), connection.peer());
        }
    }

    @Test
    void refusesAServerCertificateFromAnUntrustedAuthority() throws Exception {
        Endpoint distrustful = Endpoint.parse(server.endpoint().withoutParameters() + "?trustCertificates="
                + certificates.otherCaPem() + "&keyStore=" + certificates.clientKeyStore() + "&keyStorePasswordFile="
                + certificates.passwordFile());
        IOException error = refused(distrustful);
        assertTrue(error instanceof SSLException, error.toString());
        assertMentions(error, "not signed by an authority this client trusts");
        log.await(LOG_WAIT, "refused a connection", "refused the server's certificate");
    }

    @Test
    void refusesAClientCertificateFromAnUntrustedAuthority() throws Exception {
        IOException error = refused(client(certificates.strangerKeyStore(), ""));
        assertTrue(error instanceof SSLException, error.toString());
        // Depending on the JDK, the server's alert is bad_certificate or certificate_required.
        assertRefusedCertificate(error, "this client's certificate");
        // The client offers only a certificate from an authority the server names, so it offers none.
        log.await(LOG_WAIT, "refused a connection", "the client gave none");
    }

    @Test
    void refusesAnExpiredClientCertificate() throws Exception {
        IOException error = refused(client(certificates.expiredKeyStore(), ""));
        assertTrue(error instanceof SSLException, error.toString());
        assertRefusedCertificate(error, "the server refused this client's certificate");
        log.await(LOG_WAIT, "refused a connection", "the client's certificate has expired");
    }

    @Test
    void refusesAnExpiredServerCertificate() throws Exception {
        try (IpcServer expired = IpcServer.builder(
                        Endpoint.parse("tls://localhost:0?" + certificates.query(certificates.expiredKeyStore())))
                .handler(request -> request)
                .build()
                .start()) {
            IOException error = refused(Endpoint.parse(
                    expired.endpoint().withoutParameters() + "?trustCertificates=" + certificates.caPem()));
            assertTrue(error instanceof SSLException, error.toString());
            assertMentions(error, "the server's certificate has expired");
            log.await(LOG_WAIT, "refused a connection", "refused the server's certificate");
        }
    }

    @Test
    void refusesAServerCertificateForAnotherHost() throws Exception {
        IOException error = refused(client(certificates.clientKeyStore(), "&serverName=other.example"));
        assertTrue(error instanceof SSLException, error.toString());
        assertMentions(error, "does not name the host");
        log.await(LOG_WAIT, "refused a connection", "refused the server's certificate");

        try (IpcServer misnamed = IpcServer.builder(
                        Endpoint.parse("tls://localhost:0?" + certificates.query(certificates.otherHostKeyStore())))
                .handler(request -> request)
                .build()
                .start()) {
            IOException mismatch = refused(Endpoint.parse(
                    misnamed.endpoint().withoutParameters() + "?trustCertificates=" + certificates.caPem()));
            assertMentions(mismatch, "does not name the host");
        }
    }

    @Test
    void refusesAClientWithoutACertificateWhenMutualTlsIsRequired() throws Exception {
        IOException error = refused(client(null, ""));
        assertTrue(error instanceof SSLException, error.toString());
        assertRefusedCertificate(error, "the server requires a client certificate and this client has none");
        log.await(LOG_WAIT, "refused a connection", "requires a client certificate and the client gave none");
    }

    @Test
    void refusesACertificateTheAccessPolicyDoesNotName() throws Exception {
        try (IpcServer picky = IpcServer.builder(
                        Endpoint.parse("tls://localhost:0?" + certificates.query(certificates.serverKeyStore())
                                + "&clientAuth=required&access=cn:test-client"))
                .handler(request -> request)
                .build()
                .start()) {
            Endpoint asServer = Endpoint.parse(
                    picky.endpoint().withoutParameters() + "?" + certificates.query(certificates.serverKeyStore()));
            RemoteException error = assertThrows(
                    RemoteException.class, () -> IpcClient.connect(asServer).close());
            assertEquals(ErrorCode.UNAUTHORIZED, error.code());
            assertMentions(error, "does not permit PeerCredentials{principal=CN=localhost}");
            log.await(LOG_WAIT, "refused a connection", "certificate CN in [test-client]");
            try (IpcClient named = IpcClient.connect(Endpoint.parse(
                    picky.endpoint().withoutParameters() + "?" + certificates.query(certificates.clientKeyStore())))) {
                assertArrayEquals(new byte[] {1}, named.call(new byte[] {1}));
            }
        }
    }

    @Test
    void refusesAPlaintextClientOnTheTlsPort() throws Exception {
        Endpoint plaintext = Endpoint.tcp("localhost", server.endpoint().port());
        IOException error = refused(plaintext);
        assertMentions(error, "TLS");
        log.await(LOG_WAIT, "refused a connection", "the client does not speak TLS");
    }

    @Test
    void refusesToSpeakTlsToAPlaintextPort() throws Exception {
        try (IpcServer plain = IpcServer.builder(Endpoint.parse("tcp://127.0.0.1:0"))
                .handler(request -> {
                    handled.add("plain");
                    return request;
                })
                .build()
                .start()) {
            Endpoint tls = Endpoint.parse(
                    "tls://localhost:" + plain.endpoint().port() + "?trustCertificates=" + certificates.caPem());
            IOException error = refused(tls);
            assertTrue(error instanceof SSLException, error.toString());
            assertMentions(error, "the server does not speak TLS");
            log.await(LOG_WAIT, "the client speaks TLS");
        }
    }

    @Test
    void closesSilentConnectionsAtTheHandshakeTimeoutWhileGoodClientsConnect() throws Exception {
        try (IpcServer quick = IpcServer.builder(Endpoint.parse("tls://localhost:0?"
                        + certificates.query(certificates.serverKeyStore()) + "&handshakeTimeout=1s"))
                .handler(request -> request)
                .build()
                .start()) {
            List<Socket> silent = new ArrayList<>();
            try {
                for (int i = 0; i < 100; i++) {
                    silent.add(new Socket(
                            InetAddress.getLoopbackAddress(), quick.endpoint().port()));
                }
                Endpoint goodEndpoint = Endpoint.parse(
                        quick.endpoint().withoutParameters() + "?trustCertificates=" + certificates.caPem());
                for (int i = 0; i < 10; i++) {
                    try (IpcClient client = IpcClient.connect(goodEndpoint)) {
                        assertArrayEquals(new byte[] {(byte) i}, client.call(new byte[] {(byte) i}));
                    }
                }
                for (Socket socket : silent) {
                    socket.setSoTimeout(10_000);
                    InputStream in = socket.getInputStream();
                    assertEquals(-1, in.read(), "the server closed a silent connection");
                }
            } finally {
                for (Socket socket : silent) {
                    socket.close();
                }
            }
            log.await(LOG_WAIT, "refused a connection", "within handshakeTimeout PT1S");
        }
    }
}
