package dev.ipc;

import java.util.Objects;
import java.util.Optional;

/**
 * A transport that {@link Ipc} found: the scheme it serves, its name, and whether it can work in this runtime.
 *
 * @param scheme the endpoint scheme served, such as {@code unix} or {@code tcp}
 * @param name the backend's name, unique within its scheme, such as {@code jdk} or {@code junixsocket}
 * @param available whether it can work here
 * @param unavailability why it can't, when it can't; empty when it can
 */
public record TransportInfo(String scheme, String name, boolean available, Optional<String> unavailability) {

    /** Checks that every component is present. */
    public TransportInfo {
        Objects.requireNonNull(scheme, "scheme");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(unavailability, "unavailability");
    }

    /**
     * The transport's identity in messages and logs.
     *
     * @return {@code scheme/name}, such as {@code unix/jdk}
     */
    public String id() {
        return scheme + "/" + name;
    }
}
