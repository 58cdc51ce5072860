package dev.ipc.unix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.UnixPaths;
import dev.ipc.testkit.TransportContract;
import java.nio.file.Path;

class JdkUnixContractTest extends TransportContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.unix(directory.resolve("s.sock")).withParameter("backend", "jdk");
    }

    @Override
    protected String transportId() {
        return "unix/jdk";
    }

    @Override
    protected void checkPeerIsThisProcess(PeerCredentials peer) {
        assertEquals(System.getProperty("user.name"), peer.user().orElseThrow());
        // The JDK names the peer; its uid comes back from /etc/passwd, so that handlers can compare uids here too.
        assertEquals(UnixPaths.ownUid().orElseThrow(), peer.uid().orElseThrow());
        assertFalse(peer.pid().isPresent(), "the JDK gives no pid, and absent is not zero");
    }
}
