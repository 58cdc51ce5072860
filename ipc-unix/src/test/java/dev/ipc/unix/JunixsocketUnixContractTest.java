package dev.ipc.unix;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.testkit.TransportContract;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

class JunixsocketUnixContractTest extends TransportContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.unix(directory.resolve("s.sock")).withParameter("backend", "junixsocket");
    }

    @Override
    protected String transportId() {
        return "unix/junixsocket";
    }

    @Override
    protected void checkPeerIsThisProcess(PeerCredentials peer) {
        checkIds(peer, directory());
    }

    static void checkIds(PeerCredentials peer, Path directory) {
        assertEquals(ProcessHandle.current().pid(), peer.pid().orElseThrow());
        try {
            assertEquals(
                    ((Number) Files.getAttribute(directory, "unix:uid")).longValue(),
                    peer.uid().orElseThrow());
            assertEquals(
                    ((Number) Files.getAttribute(directory, "unix:gid")).longValue(),
                    peer.gid().orElseThrow());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
