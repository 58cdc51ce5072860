package dev.ipc.unix;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.testkit.TransportContract;
import java.nio.file.Path;

/**
 * The whole contract, the runtime's included, on connections whose data runs in shared memory: listener and clients ask
 * with {@code sharedMemory=on}, and every connection the suite makes is checked to be in shared memory, so a silent
 * fall back to the socket fails the suite.
 */
class SharedMemoryContractTest extends TransportContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.unix(directory.resolve("s.sock")).withParameter("sharedMemory", "on");
    }

    @Override
    protected String transportId() {
        return "unix/junixsocket";
    }

    @Override
    protected void checkPeerIsThisProcess(PeerCredentials peer) {
        JunixsocketUnixContractTest.checkIds(peer, directory());
    }

    @Override
    protected void checkConnected(Connection connection) {
        assertTrue(
                connection instanceof ChannelConnection && ((ChannelConnection) connection).isSharedMemory(),
                () -> connection + " does not carry its data in shared memory");
    }
}
