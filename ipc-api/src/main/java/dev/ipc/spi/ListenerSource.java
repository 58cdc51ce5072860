package dev.ipc.spi;

import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.internal.FramedListener;
import java.io.IOException;
import java.util.Optional;

/**
 * A source of listeners that this process inherited rather than bound (systemd socket activation): an endpoint scheme
 * that can be listened on and never connected to.
 *
 * <p>Found with {@link java.util.ServiceLoader} like a {@link Transport}, with the same rules for its constructor and
 * for saying through {@link #isAvailable()} whether it can work here.
 */
public interface ListenerSource {

    /** The endpoint scheme served, such as {@code systemd}. */
    String scheme();

    /** Whether listening can work in this process, as it was started; cheap after the first call. */
    boolean isAvailable();

    /** Why {@link #isAvailable()} is false; empty when it is true. */
    Optional<Throwable> unavailabilityCause();

    /**
     * The listener on the inherited socket that {@code endpoint} names.
     *
     * @param options the effective options, with the endpoint's query already applied
     */
    FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException;

    /** Why a client can't connect to such an endpoint, and what to connect to instead. */
    String whyNoConnect(Endpoint endpoint);
}
