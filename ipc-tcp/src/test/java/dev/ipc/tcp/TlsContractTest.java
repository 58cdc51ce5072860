package dev.ipc.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.testkit.TestCertificates;
import dev.ipc.testkit.TransportContract;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The contract on {@code tls:}, with mutual TLS: both sides present the certificate for localhost. */
class TlsContractTest extends TransportContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        try {
            TestCertificates certificates = TestCertificates.get();
            // PEM files rather than a keystore, so that the suite's Python client can read them too.
            return Endpoint.parse("tls://localhost:0?" + certificates.pemQuery() + "&clientAuth=required");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected String transportId() {
        return "tls/jdk";
    }

    @Override
    protected void checkPeerIsThisProcess(PeerCredentials peer) {
        assertEquals(PeerCredentials.ofPrincipal("CN=localhost"), peer, "the peer's certificate names it");
    }
}
