package dev.ipc.unix;

import dev.ipc.Endpoint;
import dev.ipc.testkit.DatagramContract;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** The datagram contract on {@code unixgram:} socket files. */
class UnixDatagramContractTest extends DatagramContract {

    private final AtomicInteger next = new AtomicInteger();

    @Override
    protected Endpoint newEndpoint(Path directory) {
        return Endpoint.unixgram(directory.resolve("d" + next.incrementAndGet() + ".sock"));
    }

    @Override
    protected String transportId() {
        return "unixgram/junixsocket";
    }

    @Override
    protected boolean isReliable() {
        return true;
    }

    @Override
    protected String whyEmptyDatagramsAreDropped() {
        return "junixsocket 2.10.1's receive takes an empty datagram for \"nothing arrived\" and drops it";
    }
}
