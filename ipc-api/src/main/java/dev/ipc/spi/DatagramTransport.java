package dev.ipc.spi;

import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import java.io.IOException;
import java.util.Optional;

/**
 * A backend that carries datagrams for one endpoint scheme ({@code udp} or {@code unixgram}).
 *
 * <p>Found with {@link java.util.ServiceLoader} like {@link Transport}, under the same rules: a public no-argument
 * constructor that neither fails nor loads native code, availability reported through {@link #isAvailable()} and
 * {@link #unavailabilityCause()}, and thread-safe methods. {@code dev.ipc.Ipc} uses the first available one of an
 * endpoint's scheme.
 */
public interface DatagramTransport {

    /** The endpoint scheme served, such as {@code udp}. */
    String scheme();

    /** The backend's short name, such as {@code jdk} or {@code junixsocket}. */
    String name();

    /** Whether this transport can work in this runtime; cheap after the first call. */
    boolean isAvailable();

    /** Why {@link #isAvailable()} is false; empty when it is true. */
    Optional<Throwable> unavailabilityCause();

    /**
     * Binds a socket to {@code endpoint}, to receive from anyone who may send there.
     *
     * @param options the effective options, with the endpoint's query already applied
     */
    DatagramSocket bind(Endpoint endpoint, DatagramOptions options) throws IOException;

    /**
     * Opens a socket connected to {@code endpoint}, with an address of its own to receive replies at.
     *
     * @param options the effective options, with the endpoint's query already applied
     */
    DatagramSocket connect(Endpoint endpoint, DatagramOptions options) throws IOException;

    /** The transport's identity for messages and logs: {@code scheme/name}. */
    default String id() {
        return scheme() + "/" + name();
    }
}
