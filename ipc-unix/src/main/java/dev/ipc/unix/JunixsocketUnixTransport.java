package dev.ipc.unix;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.ConnectionOptions.UnixBackend;
import dev.ipc.Endpoint;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.spi.Suitability;
import dev.ipc.spi.Transport;
import java.io.IOException;
import java.util.Optional;

/**
 * Unix domain sockets through junixsocket: for the abstract namespace ({@code unix:@name}), the peer's pid, runtimes
 * whose JDK lacks Unix channels, and wherever {@code backend=junixsocket} asks for it.
 *
 * <p>junixsocket loads a native library on first use. This class touches none of it until it is chosen, so programs
 * that use the JDK backend load no native code; on JDK 24 and later, start the JVM with
 * {@code --enable-native-access=ALL-UNNAMED} (or the module's name) to keep the JVM from warning about it. On the
 * module path, add the module with {@code --add-modules org.newsclub.net.unix}.
 *
 * @implNote junixsocket's listeners take over a path that is in use unless {@code SO_REUSEADDR} is off, and delete
 *     their socket file on close by default; this backend turns both off and manages the file as the JDK backend does,
 *     so the two behave alike.
 */
public final class JunixsocketUnixTransport implements Transport {

    /** Public for {@link java.util.ServiceLoader}. */
    public JunixsocketUnixTransport() {}

    @Override
    public String scheme() {
        return Endpoint.UNIX;
    }

    @Override
    public String name() {
        return "junixsocket";
    }

    @Override
    public boolean isAvailable() {
        return Probe.CAUSE == null;
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.ofNullable(Probe.CAUSE);
    }

    @Override
    public Suitability suitability(Endpoint endpoint, ConnectionOptions options) {
        if (options.get(ConnectionOptions.BACKEND) == UnixBackend.JDK) {
            return Suitability.unsuitable("backend=jdk was asked for");
        }
        if (options.get(ConnectionOptions.BACKEND) == UnixBackend.JUNIXSOCKET) {
            return Suitability.suitable(Suitability.FORCED, "backend=junixsocket was asked for");
        }
        if (endpoint.isAbstract()) {
            return Suitability.suitable(Suitability.PREFERRED, "the abstract namespace needs junixsocket");
        }
        if (options.get(ConnectionOptions.SHARED_MEMORY) != ConnectionOptions.SharedMemory.OFF) {
            return Suitability.suitable(
                    Suitability.PREFERRED,
                    "shared memory passes its memory file as a descriptor, which needs junixsocket");
        }
        if (options.find(ConnectionOptions.ACCESS)
                .map(AccessPolicy::needsNumericIds)
                .orElse(false)) {
            return Suitability.suitable(Suitability.PREFERRED, "the access policy needs the peer's numeric ids");
        }
        return Suitability.suitable(Suitability.FALLBACK, "fallback where the JDK's Unix channels are missing");
    }

    @Override
    public FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException {
        requireAvailable();
        return JunixsocketChannels.listen(endpoint, options, id());
    }

    @Override
    public FramedConnection connect(Endpoint endpoint, ConnectionOptions options) throws IOException {
        requireAvailable();
        return JunixsocketChannels.connect(endpoint, options, id());
    }

    /** Why junixsocket does not work here, or null if it does; loads it on first call. */
    static Throwable cause() {
        return Probe.CAUSE;
    }

    private void requireAvailable() {
        if (Probe.CAUSE != null) {
            throw new IllegalStateException("junixsocket is not available: " + Probe.CAUSE, Probe.CAUSE);
        }
    }

    @Override
    public String toString() {
        return id();
    }

    /** Loads junixsocket once, on first need, and keeps why it failed. */
    private static final class Probe {
        static final Throwable CAUSE = probe();

        private static Throwable probe() {
            try {
                return JunixsocketChannels.unavailabilityCause();
            } catch (LinkageError e) {
                return e;
            }
        }
    }
}
