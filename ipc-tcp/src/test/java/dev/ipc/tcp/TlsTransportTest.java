package dev.ipc.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import dev.ipc.PeerCredentials;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.TestCertificates;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** What is particular to TLS: where keys come from, what goes wrong with them, and what is negotiated. */
@ExtendWith(LeakGate.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TlsTransportTest {

    @TempDir
    Path directory;

    private static void assertMentions(Throwable error, String... parts) {
        for (String part : parts) {
            assertTrue(String.valueOf(error.getMessage()).contains(part), error + " should mention: " + part);
        }
    }

    @Test
    void aListenerNeedsAKey() {
        IllegalArgumentException error = assertThrows(
                IllegalArgumentException.class,
                () -> Ipc.listen(Endpoint.parse("tls://127.0.0.1:0")).close());
        assertMentions(error, "needs its certificate and key", "keyStore", "certificate and privateKey");
    }

    @Test
    void beyondLoopbackItListensOnlyWhenToldWhoMayConnect() throws Exception {
        TestCertificates certificates = TestCertificates.get();
        String open = "tls://0.0.0.0:0?" + certificates.query(certificates.serverKeyStore());
        IllegalArgumentException refused =
                assertThrows(IllegalArgumentException.class, () -> Ipc.listen(Endpoint.parse(open)));
        assertMentions(
                refused,
                "refusing to listen on tls://0.0.0.0:0 (every address of this host) open to anyone",
                "clientAuth=required",
                "secretFile",
                "access=anyone");
        // Each way of saying who may connect is enough (no connection is made: the bind is the point; the query
        // already trusts the test authority for client certificates).
        for (String guard : new String[] {"&clientAuth=required", "&access=same-user"}) {
            Ipc.listen(Endpoint.parse(open + guard)).close();
        }
        // Knowingly open: served, and plain TLS needs no insecure option.
        try (Listener listener = Ipc.listen(Endpoint.parse(open + "&access=anyone"));
                Connection client = Ipc.connect(Endpoint.parse("tls://localhost:"
                        + listener.endpoint().port() + "?trustCertificates=" + certificates.caPem()));
                Connection server = listener.accept()) {
            client.send(new byte[] {3});
            assertArrayEquals(new byte[] {3}, server.receive());
            assertEquals(PeerCredentials.ofPrincipal("CN=localhost"), client.peer());
            assertEquals(PeerCredentials.unknown(), server.peer(), "no client certificate was asked for");
        }
    }

    @Test
    void speaksOnlyTls13And12() throws Exception {
        TestCertificates certificates = TestCertificates.get();
        try (Listener listener = Ipc.listen(
                        Endpoint.parse("tls://127.0.0.1:0?" + certificates.query(certificates.serverKeyStore())));
                Connection client = Ipc.connect(Endpoint.parse(
                        listener.endpoint().withoutParameters() + "?trustCertificates=" + certificates.caPem()));
                Connection server = listener.accept()) {
            SSLSocket socket = socketOf(client);
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
            assertEquals(Set.of("TLSv1.3", "TLSv1.2"), Set.of(socket.getEnabledProtocols()));
        }
    }

    private static SSLSocket socketOf(Connection connection) throws ReflectiveOperationException {
        Field field = TlsConnection.class.getDeclaredField("socket");
        field.setAccessible(true);
        return (SSLSocket) field.get(connection);
    }

    @Test
    void namesTheFileAndTheCauseWhenAKeyCannotBeRead() throws Exception {
        TestCertificates certificates = TestCertificates.get();
        Path pkcs1 = Files.writeString(
                directory.resolve("old.key"), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        IOException old = assertThrows(
                IOException.class,
                () -> Ipc.listen(Endpoint.parse("tls://127.0.0.1:0?certificate=" + certificates.serverCertificatePem()
                                + "&privateKey=" + pkcs1))
                        .close());
        assertMentions(old, pkcs1.toString(), "openssl pkcs8 -topk8 -nocrypt");

        Path missing = directory.resolve("missing.p12");
        IOException absent = assertThrows(
                IOException.class,
                () -> Ipc.listen(Endpoint.parse("tls://127.0.0.1:0?keyStore=" + missing))
                        .close());
        assertMentions(absent, missing.toString(), "does not exist");

        Path wrongPassword = Files.writeString(directory.resolve("wrong"), "not-the-password");
        Files.setPosixFilePermissions(wrongPassword, PosixFilePermissions.fromString("rw-------"));
        IOException wrong = assertThrows(
                IOException.class,
                () -> Ipc.listen(Endpoint.parse("tls://127.0.0.1:0?keyStore=" + certificates.serverKeyStore()
                                + "&keyStorePasswordFile=" + wrongPassword))
                        .close());
        assertMentions(wrong, certificates.serverKeyStore().toString(), "password");

        Path notPem = Files.writeString(directory.resolve("ca.pem"), "hello");
        IOException garbage = assertThrows(
                IOException.class,
                () -> Ipc.connect(Endpoint.parse("tls://127.0.0.1:1?" + "trustCertificates=" + notPem))
                        .close());
        assertMentions(garbage, notPem.toString());
    }

    @Test
    void theHandshakeCountsAgainstTheConnectTimeout() throws Exception {
        // A plain TCP listener that never answers: the client's handshake must give up within connectTimeout.
        try (Listener silent = Ipc.listen(Endpoint.parse("tcp://127.0.0.1:0"))) {
            SocketTimeoutException timeout = assertThrows(
                    SocketTimeoutException.class,
                    () -> Ipc.connect(
                                    Endpoint.parse("tls://127.0.0.1:"
                                            + silent.endpoint().port()),
                                    ConnectionOptions.builder()
                                            .set(ConnectionOptions.CONNECT_TIMEOUT, Duration.ofMillis(300))
                                            .build())
                            .close());
            assertMentions(timeout, "TLS handshake", "connectTimeout");
        }
    }
}
