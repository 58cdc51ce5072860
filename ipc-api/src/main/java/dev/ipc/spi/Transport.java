package dev.ipc.spi;

import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import java.io.IOException;
import java.util.Optional;

/**
 * A backend that carries connections for one endpoint scheme; the one interface a backend implements.
 *
 * <p>Implementations are found with {@link java.util.ServiceLoader} ({@code provides dev.ipc.spi.Transport with ...} in
 * {@code module-info}, or a {@code META-INF/services} entry on the class path) and must have a public no-argument
 * constructor that neither fails nor loads native code: a transport that cannot work here says so through
 * {@link #isAvailable()} and {@link #unavailabilityCause()}. Implementations are thread-safe.
 *
 * <p>For an endpoint, {@code dev.ipc.Ipc} asks every transport of the endpoint's scheme how well it suits it and uses
 * the highest ranked one that is available.
 */
public interface Transport {

    /** The endpoint scheme served, such as {@code unix} or {@code tcp}. */
    String scheme();

    /** The backend's short name, unique within its scheme, such as {@code jdk} or {@code junixsocket}. */
    String name();

    /** Whether this transport can work in this runtime; cheap after the first call. */
    boolean isAvailable();

    /** Why {@link #isAvailable()} is false; empty when it is true. */
    Optional<Throwable> unavailabilityCause();

    /**
     * How well this transport suits an endpoint under the given options, with the reason.
     *
     * <p>Asked before {@link #isAvailable()}, and must not load anything to answer: availability is checked in rank
     * order only, so a backend that needs native code is not loaded when a better ranked one serves.
     */
    Suitability suitability(Endpoint endpoint, ConnectionOptions options);

    /**
     * Binds {@code endpoint} and listens on it.
     *
     * @param options the effective options, with the endpoint's query already applied
     */
    FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException;

    /**
     * Connects to {@code endpoint}, within {@link ConnectionOptions#CONNECT_TIMEOUT}.
     *
     * @param options the effective options, with the endpoint's query already applied
     */
    FramedConnection connect(Endpoint endpoint, ConnectionOptions options) throws IOException;

    /** The transport's identity for messages and logs: {@code scheme/name}. */
    default String id() {
        return scheme() + "/" + name();
    }
}
