package dev.ipc;

import static dev.ipc.Option.Scope.CLIENT;

import dev.ipc.Option.Scope;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * Settings for an {@link IpcClient}: its call and reconnect timeouts (the constants here), and the
 * {@link ConnectionOptions} that a client's connection honours (connect and handshake timeouts, frame limit, backend,
 * secret, TLS).
 *
 * <p>Immutable; each value is checked when it is set. The same settings can be written in the endpoint's query, and the
 * query wins. A client reads with its own timeouts, so {@code readTimeout} is refused here, as are a listener's and a
 * server's options.
 */
public final class ClientOptions extends OptionSet {

    /** How long a call waits for its reply; zero for no limit. */
    public static final Option<Duration> CALL_TIMEOUT = Option.duration(
                    "callTimeout", Duration.ofSeconds(30), "How long a call waits for its reply; zero for no limit.")
            .scopes(CLIENT)
            .build();

    /** How long a client keeps retrying, with backoff, to reconnect for a call; zero to try once. */
    public static final Option<Duration> RECONNECT_TIMEOUT = Option.duration(
                    "reconnectTimeout", Duration.ofSeconds(5), "How long a client retries to reconnect; zero: once.")
            .scopes(CLIENT)
            .build();

    /**
     * How many calls may wait for a place among the server's requests in flight (the WELCOME's limit): calls beyond
     * that limit queue in the client until a reply frees a place or their timeout passes, and a call that finds this
     * many waiting fails at once with {@link CallQueueFullException}.
     */
    public static final Option<Integer> MAX_QUEUED_CALLS = Option.size(
                    "maxQueuedCalls", 10_000, 0, 10_000_000, "How many calls may wait for a place in flight.")
            .scopes(CLIENT)
            .build();

    /**
     * How many messages of a stream ({@link IpcClient#stream(byte[])}) the client takes ahead of its reader: the server
     * sends no more until the reader has read half of them. Bounds the memory a stream holds (this many messages of at
     * most the server's maxFrameSize); larger windows keep a fast stream going across the round trip.
     */
    public static final Option<Integer> STREAM_WINDOW = Option.size(
                    "streamWindow", 16, 1, 65_536, "Messages of a stream taken ahead of its reader.")
            .scopes(CLIENT)
            .build();

    /**
     * Where the stages chained to the futures of {@link IpcClient#callAsync} run; set in code only. By default 2 to 4
     * threads of the client's own: never the thread that reads the connection, so a stage may make another call and
     * wait for it.
     */
    public static final Option<Executor> EXECUTOR = Option.of(
                    "executor", Executor.class, null, "Where callAsync's stages run, set in code only.")
            .scopes(CLIENT)
            .build();

    /**
     * What runs around each {@link IpcClient#call} and {@link IpcClient#callAsync} ({@link IpcClient.Interceptor}); set
     * in code only. Several make one chain with {@link IpcClient.Interceptor#chain}.
     */
    public static final Option<IpcClient.Interceptor> INTERCEPTOR = Option.of(
                    "interceptor",
                    IpcClient.Interceptor.class,
                    null,
                    "What runs around each call and callAsync, set in code only.")
            .scopes(CLIENT)
            .build();

    static final List<Option<?>> TABLE =
            List.of(CALL_TIMEOUT, RECONNECT_TIMEOUT, MAX_QUEUED_CALLS, STREAM_WINDOW, EXECUTOR, INTERCEPTOR);

    private static final Set<Scope> SCOPES = scopesOf(CLIENT);
    private static final ClientOptions DEFAULTS = new ClientOptions(Map.of());

    private ClientOptions(Map<Option<?>, Object> values) {
        super(values);
    }

    /** The defaults: every option at its default. */
    public static ClientOptions defaults() {
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
        return "ClientOptions";
    }

    /** Builds {@link ClientOptions}; not thread-safe. */
    public static final class Builder extends AbstractBuilder<Builder> {
        private Builder(ClientOptions from) {
            super(SCOPES, "ClientOptions", from);
        }

        @Override
        Builder self() {
            return this;
        }

        /** The options. */
        public ClientOptions build() {
            return new ClientOptions(values);
        }
    }
}
