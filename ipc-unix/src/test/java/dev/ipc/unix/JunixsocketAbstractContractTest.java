package dev.ipc.unix;

import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.testkit.TransportContract;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** The contract on Linux's abstract namespace, which only junixsocket reaches. */
@EnabledOnOs(value = OS.LINUX, disabledReason = "the abstract namespace is Linux's")
class JunixsocketAbstractContractTest extends TransportContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.unixAbstract("ipc-test-" + UUID.randomUUID()).withParameter("access", "same-user");
    }

    @Override
    protected String transportId() {
        return "unix/junixsocket";
    }

    @Override
    protected void checkPeerIsThisProcess(PeerCredentials peer) {
        JunixsocketUnixContractTest.checkIds(peer, directory());
    }
}
