package dev.ipc.tcp;

import dev.ipc.Endpoint;
import dev.ipc.testkit.DatagramContract;
import java.nio.file.Path;

class UdpContractTest extends DatagramContract {

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.udp("127.0.0.1", 0);
    }

    @Override
    protected String transportId() {
        return "udp/jdk";
    }

    @Override
    protected boolean isReliable() {
        return false;
    }
}
