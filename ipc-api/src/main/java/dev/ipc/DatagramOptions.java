package dev.ipc;

import static dev.ipc.Option.Scope.BIND_DATAGRAM;
import static dev.ipc.Option.Scope.CONNECT_DATAGRAM;

import dev.ipc.Option.Scope;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Settings for datagram sockets ({@link Ipc#bindDatagram}, {@link Ipc#connectDatagram}): the size limit and the send
 * timeout (the constants here), and those {@link ConnectionOptions} that make sense for datagrams: the read timeout
 * ({@link ConnectionOptions#READ_TIMEOUT}, for {@link DatagramSocket#receive()}), a socket file's
 * {@link ConnectionOptions#MODE mode} and {@link ConnectionOptions#GROUP group}, {@link ConnectionOptions#ACCESS
 * access} ({@code anyone} only) and {@link ConnectionOptions#ALLOW_INSECURE_PLAINTEXT allowInsecurePlaintext}.
 *
 * <p>Immutable; each value is checked when it is set. The same settings can be written in the endpoint's query, and the
 * query wins: {@code unixgram:/run/app/log.sock?mode=0660&maxDatagramSize=8KiB}. Stream options (a frame limit, a
 * secret, TLS, the backlog) have no meaning for datagrams and are refused.
 */
public final class DatagramOptions extends OptionSet {

    /**
     * The largest datagram, in bytes, that a socket sends or receives. A larger send fails before anything is sent; a
     * larger datagram that arrives is dropped and its receive fails, naming its sender, instead of being cut short. The
     * default is the most UDP carries over IPv4; Unix datagrams may be larger (the socket's send buffer is raised to
     * fit, within the system's {@code net.core.wmem_max}).
     */
    public static final Option<Integer> MAX_DATAGRAM_SIZE = Option.size(
                    "maxDatagramSize", 65_507, 1, 16 * 1024 * 1024, "The largest datagram sent or received, in bytes.")
            .scopes(BIND_DATAGRAM, CONNECT_DATAGRAM)
            .build();

    /**
     * How long a send may wait for room: a Unix datagram's receiver whose queue is full holds its senders back; zero
     * for no limit, as for a stream's send. UDP never waits: the kernel drops what does not fit. With this or the read
     * timeout set, the socket waits in a selector, which costs a system call or two more per datagram.
     */
    public static final Option<Duration> SEND_TIMEOUT = Option.duration(
                    "sendTimeout", Duration.ZERO, "How long a send waits for a full receiver; zero for no limit.")
            .scopes(BIND_DATAGRAM, CONNECT_DATAGRAM)
            .build();

    static final List<Option<?>> TABLE = List.of(MAX_DATAGRAM_SIZE, SEND_TIMEOUT);

    private static final Set<Scope> SCOPES = scopesOf(BIND_DATAGRAM, CONNECT_DATAGRAM);
    private static final DatagramOptions DEFAULTS = new DatagramOptions(Map.of());

    private DatagramOptions(Map<Option<?>, Object> values) {
        super(values);
    }

    /** The defaults: every option at its default. */
    public static DatagramOptions defaults() {
        return DEFAULTS;
    }

    /** A builder that starts from the defaults. */
    public static Builder builder() {
        return new Builder(null);
    }

    /** A builder that starts from these options. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * The options that {@code base} gives, overridden by those in the endpoint's query, for {@code reader}.
     *
     * @throws IllegalArgumentException naming the endpoint and the key, if the reader does not honour a key or its
     *     value is not valid
     */
    static DatagramOptions forEndpoint(Endpoint endpoint, DatagramOptions base, Scope reader) {
        if (endpoint.parameters().isEmpty()) {
            return base;
        }
        Builder builder = base.toBuilder();
        readQuery(endpoint, Set.of(reader), reader.reader(), builder.values);
        return builder.build();
    }

    @Override
    Set<Scope> scopes() {
        return SCOPES;
    }

    @Override
    String kind() {
        return "DatagramOptions";
    }

    /** Builds {@link DatagramOptions}; not thread-safe. */
    public static final class Builder extends AbstractBuilder<Builder> {
        private Builder(DatagramOptions from) {
            super(SCOPES, "DatagramOptions", from);
        }

        @Override
        Builder self() {
            return this;
        }

        /** The options. */
        public DatagramOptions build() {
            return new DatagramOptions(values);
        }
    }
}
