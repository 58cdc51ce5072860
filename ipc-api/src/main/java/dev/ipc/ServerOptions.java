package dev.ipc;

import static dev.ipc.Option.Scope.SERVER;

import dev.ipc.Option.Scope;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Settings for an {@link IpcServer}: its limits and timeouts (the constants here), and the {@link ConnectionOptions}
 * that a server's listener honours (backlog, socket file, access, secret, TLS, frame limit, handshake timeout).
 *
 * <p>Immutable; each value is checked when it is set. The same settings can be written in the endpoint's query, and the
 * query wins. A server reads with its own timeouts, so {@code readTimeout} and {@code acceptTimeout} are refused here,
 * as are a client's options.
 */
public final class ServerOptions extends OptionSet {

    /** How long a server keeps a connection that has no request in flight and sends nothing; zero for no limit. */
    public static final Option<Duration> IDLE_TIMEOUT = Option.duration(
                    "idleTimeout", Duration.ZERO, "How long a silent connection with nothing in flight is kept.")
            .scopes(SERVER)
            .build();

    /** How long a server waits for the rest of a frame that has begun to arrive (slow-loris); zero for no limit. */
    public static final Option<Duration> FRAME_TIMEOUT = Option.duration(
                    "frameTimeout", Duration.ofSeconds(30), "How long the rest of a begun frame may take.")
            .scopes(SERVER)
            .build();

    /**
     * How long a server lets one write to a connection stall, its peer reading nothing, before it closes that
     * connection; zero for no limit. A single write is at most 1 MiB, so this also sets the slowest reader served.
     */
    public static final Option<Duration> WRITE_TIMEOUT = Option.duration(
                    "writeTimeout", Duration.ofSeconds(30), "How long a write may stall on a peer that reads nothing.")
            .scopes(SERVER)
            .build();

    /**
     * How many bytes of requests and replies the server holds at once, over all its connections: frames as they arrive,
     * requests while they run, replies until they are written. A large request that finds no room is read, dropped and
     * answered TOO_MANY_REQUESTS; zero for a quarter of the JVM's heap.
     */
    public static final Option<Integer> MAX_BUFFERED_BYTES = Option.size(
                    "maxBufferedBytes",
                    0,
                    0,
                    Integer.MAX_VALUE,
                    "Bytes of requests and replies held at once; 0: a quarter of the heap.")
            .scopes(SERVER)
            .build();

    /** How long a closing server lets requests in flight finish before it closes their connections. */
    public static final Option<Duration> SHUTDOWN_TIMEOUT = Option.duration(
                    "shutdownTimeout", Duration.ofSeconds(10), "How long requests in flight may finish at close.")
            .scopes(SERVER)
            .build();

    /**
     * How many connections a server holds at once, past their hello. Past it, the connection idle the longest (of the
     * peer holding the most) gives way to the newcomer; with none idle, the newcomer is refused with an error frame.
     */
    public static final Option<Integer> MAX_CONNECTIONS = Option.size(
                    "maxConnections", 1024, 1, 1_000_000, "How many connections a server holds at once.")
            .scopes(SERVER)
            .build();

    /**
     * How many connections one peer may hold: a uid (or user) on Unix sockets, an address on TCP (every loopback
     * address being one); 0 for no limit. 512 by default, half of the default {@link #MAX_CONNECTIONS}. Past either
     * limit, the connection of that peer (or, past the total, of the peer holding the most) idle the longest gives way
     * to the newcomer (ERROR {@code TOO_MANY_CONNECTIONS}); the newcomer is refused only when none has been idle for 2
     * s.
     */
    public static final Option<Integer> MAX_CONNECTIONS_PER_PEER = Option.size(
                    "maxConnectionsPerPeer", 512, 0, 1_000_000, "How many connections one peer may hold; 0: any.")
            .scopes(SERVER)
            .build();

    /**
     * How many requests that may answer with a stream (their client called {@link IpcClient#stream}) one connection may
     * have in flight; more are answered TOO_MANY_REQUESTS without running. Each holds a worker for as long as it
     * streams (a platform thread on JDK 17 to 20); 0 for no limit.
     */
    public static final Option<Integer> MAX_STREAMS_PER_CONNECTION = Option.size(
                    "maxStreamsPerConnection",
                    32,
                    0,
                    1_000_000,
                    "Requests that may stream, in flight on one connection; 0: any.")
            .scopes(SERVER)
            .build();

    /**
     * How many requests that may answer with a stream one peer (as for {@link #MAX_CONNECTIONS_PER_PEER}) may have in
     * flight over all its connections; more are answered TOO_MANY_REQUESTS without running; 0 for no limit.
     */
    public static final Option<Integer> MAX_STREAMS_PER_PEER = Option.size(
                    "maxStreamsPerPeer", 128, 0, 1_000_000, "Requests that may stream, in flight for one peer; 0: any.")
            .scopes(SERVER)
            .build();

    /** How many requests one connection may have in flight; more are answered TOO_MANY_REQUESTS. */
    public static final Option<Integer> MAX_IN_FLIGHT = Option.size(
                    "maxInFlight", 128, 1, 1_000_000, "How many requests one connection may have in flight.")
            .scopes(SERVER)
            .build();

    /**
     * The threads handlers run on: 0 (the default) for a virtual thread per request on JDK 21 and later, and a pool of
     * max(8, 4 x CPUs) platform threads on JDK 17 to 20; a number for a pool of that many platform threads on any JDK
     * (at most that many handlers run at once). A platform pool grows by one thread for each connection whose reply
     * write has stalled on a peer that reads nothing, so such peers can't hold every worker.
     */
    public static final Option<Integer> WORKERS = Option.size(
                    "workers", 0, 0, 100_000, "How many threads run handlers; 0: virtual, or max(8, 4 x CPUs).")
            .scopes(SERVER)
            .build();

    /**
     * Whether a request that takes a single reply runs its handler on the thread that read it, rather than on a worker
     * (as gRPC's {@code directExecutor}): the shortest call path, one thread hand-off fewer per call, for handlers that
     * are quick and never block. While such a handler runs, its connection reads nothing more: that connection's other
     * requests, and a CANCEL for this one, wait until it returns (its deadline still shows in
     * {@link Request#isCancelled()}); other connections are not held up. Requests that may be answered with a stream
     * (their client called {@link IpcClient#stream}) still run on workers, since a stream needs its connection read for
     * the client's credit.
     */
    public static final Option<Boolean> DIRECT_HANDLERS = Option.flag(
                    "directHandlers", false, "Whether quick handlers run on the thread that read the request.")
            .scopes(SERVER)
            .build();

    static final List<Option<?>> TABLE = List.of(
            WORKERS,
            DIRECT_HANDLERS,
            IDLE_TIMEOUT,
            FRAME_TIMEOUT,
            WRITE_TIMEOUT,
            SHUTDOWN_TIMEOUT,
            MAX_CONNECTIONS,
            MAX_CONNECTIONS_PER_PEER,
            MAX_IN_FLIGHT,
            MAX_STREAMS_PER_CONNECTION,
            MAX_STREAMS_PER_PEER,
            MAX_BUFFERED_BYTES);

    private static final Set<Scope> SCOPES = scopesOf(SERVER);
    private static final ServerOptions DEFAULTS = new ServerOptions(Map.of());

    private ServerOptions(Map<Option<?>, Object> values) {
        super(values);
    }

    /** The defaults: every option at its default. */
    public static ServerOptions defaults() {
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

    @Override
    Set<Scope> scopes() {
        return SCOPES;
    }

    @Override
    String kind() {
        return "ServerOptions";
    }

    /** Builds {@link ServerOptions}; not thread-safe. */
    public static final class Builder extends AbstractBuilder<Builder> {
        private Builder(ServerOptions from) {
            super(SCOPES, "ServerOptions", from);
        }

        @Override
        Builder self() {
            return this;
        }

        /** The options. */
        public ServerOptions build() {
            return new ServerOptions(values);
        }
    }
}
