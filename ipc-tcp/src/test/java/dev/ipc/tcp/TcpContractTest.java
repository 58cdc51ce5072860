package dev.ipc.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.testkit.TransportContract;
import java.nio.file.Path;

class TcpContractTest extends TransportContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.tcp("127.0.0.1", 0);
    }

    @Override
    protected String transportId() {
        return "tcp/jdk";
    }

    @Override
    protected void checkPeerIsThisProcess(PeerCredentials peer) {
        assertEquals(PeerCredentials.unknown(), peer, "TCP tells nothing of the peer");
    }
}
