package dev.ipc;

import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Settings for listeners and connections: timeouts, limits and the choice of backend.
 *
 * <p>Immutable; every value is checked when {@link Builder#build()} runs. A zero {@link Duration} means "no timeout".
 * The same settings can be written in an endpoint's query, so one configuration string carries them all;
 * {@link #fromEndpoint(Endpoint, IpcOptions)} reads them:
 *
 * <pre>
 *   unix:/run/app.sock?backend=junixsocket&amp;readTimeout=30s&amp;maxFrameSize=16MiB
 *   unix:/run/app/app.sock?mode=0660&amp;group=ops&amp;access=gid:1001
 * </pre>
 *
 * Durations there are written {@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h} or in ISO-8601 ({@code PT5S}); sizes in
 * bytes, optionally with {@code KiB}, {@code MiB} or {@code GiB}.
 */
public final class IpcOptions {

    /** The default maximum message size: 4 MiB. */
    public static final int DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024;
    /** The default listen backlog: 511, as Redis and nginx use. */
    public static final int DEFAULT_BACKLOG = 511;
    /** The default connect timeout: 10 seconds. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private static final IpcOptions DEFAULTS = new Builder().build();

    /** Which implementation carries {@code unix:} endpoints. */
    public enum UnixBackend {
        /** The JDK's channels, unless the endpoint needs a feature only junixsocket has, or the JDK lacks them. */
        AUTO,
        /** The JDK's {@code UnixDomainSocketAddress} channels (no native code). */
        JDK,
        /** junixsocket (native code; abstract namespace, peer pid). */
        JUNIXSOCKET;

        /** The name used in endpoint queries: {@code auto}, {@code jdk} or {@code junixsocket}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final Duration acceptTimeout;
    private final int maxFrameSize;
    private final int backlog;
    private final UnixBackend unixBackend;
    private final int socketFileMode;
    private final String socketFileGroup;
    private final AccessPolicy accessPolicy;
    private final Duration handshakeTimeout;
    private final Duration idleTimeout;
    private final Duration frameTimeout;
    private final Duration writeTimeout;
    private final Duration shutdownTimeout;
    private final Duration callTimeout;
    private final Duration reconnectTimeout;
    private final int maxConnections;
    private final int maxConnectionsPerPeer;
    private final int maxInFlight;
    private final TlsOptions tls;
    private final Secret secret;
    private final boolean allowInsecurePlaintext;

    private IpcOptions(Builder builder) {
        this.connectTimeout = builder.connectTimeout;
        this.readTimeout = builder.readTimeout;
        this.acceptTimeout = builder.acceptTimeout;
        this.maxFrameSize = builder.maxFrameSize;
        this.backlog = builder.backlog;
        this.unixBackend = builder.unixBackend;
        this.socketFileMode = builder.socketFileMode;
        this.socketFileGroup = builder.socketFileGroup;
        this.accessPolicy = builder.accessPolicy;
        this.handshakeTimeout = builder.handshakeTimeout;
        this.idleTimeout = builder.idleTimeout;
        this.frameTimeout = builder.frameTimeout;
        this.writeTimeout = builder.writeTimeout;
        this.shutdownTimeout = builder.shutdownTimeout;
        this.callTimeout = builder.callTimeout;
        this.reconnectTimeout = builder.reconnectTimeout;
        this.maxConnections = builder.maxConnections;
        this.maxConnectionsPerPeer = builder.maxConnectionsPerPeer;
        this.maxInFlight = builder.maxInFlight;
        this.tls = builder.tls;
        this.secret = builder.secret;
        this.allowInsecurePlaintext = builder.allowInsecurePlaintext;
    }

    /** The defaults: connect timeout 10 s, no read or accept timeout, 4 MiB frames, backlog 511, backend auto. */
    public static IpcOptions defaults() {
        return DEFAULTS;
    }

    /** A builder that starts from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from these options. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * The options that {@code base} gives, overridden by those in the endpoint's query.
     *
     * <p>The query is the deployment's word, so it wins over the program's defaults.
     *
     * @throws IllegalArgumentException naming the endpoint and the parameter if a parameter is unknown or its value is
     *     not valid
     */
    public static IpcOptions fromEndpoint(Endpoint endpoint, IpcOptions base) {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(base, "base");
        if (endpoint.parameters().isEmpty()) {
            return base;
        }
        Builder builder = base.toBuilder();
        TlsOptions.Builder tls = base.tls.toBuilder();
        for (Map.Entry<String, String> parameter : endpoint.parameters().entrySet()) {
            String key = parameter.getKey();
            String value = parameter.getValue();
            try {
                if (TlsOptions.apply(tls, key, value)) {
                    continue;
                }
                switch (key) {
                    case "connectTimeout":
                        builder.connectTimeout(parseDuration(value));
                        break;
                    case "readTimeout":
                        builder.readTimeout(parseDuration(value));
                        break;
                    case "acceptTimeout":
                        builder.acceptTimeout(parseDuration(value));
                        break;
                    case "maxFrameSize":
                        builder.maxFrameSize(parseSize(value));
                        break;
                    case "backlog":
                        builder.backlog(parseSize(value));
                        break;
                    case "backend":
                        builder.unixBackend(parseBackend(value));
                        break;
                    case "mode":
                        builder.socketFileMode(parseMode(value));
                        break;
                    case "group":
                        builder.socketFileGroup(value);
                        break;
                    case "access":
                        builder.accessPolicy(parseAccess(value));
                        break;
                    case "handshakeTimeout":
                        builder.handshakeTimeout(parseDuration(value));
                        break;
                    case "idleTimeout":
                        builder.idleTimeout(parseDuration(value));
                        break;
                    case "frameTimeout":
                        builder.frameTimeout(parseDuration(value));
                        break;
                    case "writeTimeout":
                        builder.writeTimeout(parseDuration(value));
                        break;
                    case "shutdownTimeout":
                        builder.shutdownTimeout(parseDuration(value));
                        break;
                    case "callTimeout":
                        builder.callTimeout(parseDuration(value));
                        break;
                    case "reconnectTimeout":
                        builder.reconnectTimeout(parseDuration(value));
                        break;
                    case "maxConnections":
                        builder.maxConnections(parseSize(value));
                        break;
                    case "maxConnectionsPerPeer":
                        builder.maxConnectionsPerPeer(parseSize(value));
                        break;
                    case "maxInFlight":
                        builder.maxInFlight(parseSize(value));
                        break;
                    case "secretFile":
                        builder.secret(Secret.fromFile(Path.of(value)));
                        break;
                    case "secretEnv":
                        builder.secret(Secret.fromEnv(value));
                        break;
                    case "secret":
                        throw new IllegalArgumentException("a secret is never written in the endpoint; name where it "
                                + "is with secretFile=PATH or secretEnv=VARIABLE");
                    case "allowInsecurePlaintext":
                        builder.allowInsecurePlaintext(parseBoolean(value));
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option '" + key + "' (known: connectTimeout, "
                                + "readTimeout, acceptTimeout, maxFrameSize, backlog, backend, mode, group, access, "
                                + "handshakeTimeout, idleTimeout, frameTimeout, writeTimeout, shutdownTimeout, "
                                + "callTimeout, reconnectTimeout, maxConnections, maxConnectionsPerPeer, maxInFlight, "
                                + "secretFile, secretEnv, allowInsecurePlaintext, " + TlsOptions.KEYS + ")");
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("endpoint '" + endpoint + "': " + e.getMessage(), e);
            }
        }
        try {
            return builder.tls(tls.build()).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("endpoint '" + endpoint + "': " + e.getMessage(), e);
        }
    }

    /** How long a connect may take before it fails with {@link java.net.SocketTimeoutException}; zero for no limit. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /**
     * How long a read may wait for data before it fails with {@link java.net.SocketTimeoutException}; zero for no
     * limit.
     */
    public Duration readTimeout() {
        return readTimeout;
    }

    /**
     * How long {@link Listener#accept()} waits before it fails with {@link java.net.SocketTimeoutException}; zero for
     * no limit.
     */
    public Duration acceptTimeout() {
        return acceptTimeout;
    }

    /** The largest message, in bytes, that may be sent or received. */
    public int maxFrameSize() {
        return maxFrameSize;
    }

    /** The listen backlog: how many connections the OS queues before {@code accept()} takes them. */
    public int backlog() {
        return backlog;
    }

    /** Which implementation carries {@code unix:} endpoints. */
    public UnixBackend unixBackend() {
        return unixBackend;
    }

    /** The permission bits of a socket file a listener creates, such as {@code 0600} (the default) or {@code 0660}. */
    public int socketFileMode() {
        return socketFileMode;
    }

    /** The group a listener gives its socket file, by name; empty to keep the process's group. */
    public Optional<String> socketFileGroup() {
        return Optional.ofNullable(socketFileGroup);
    }

    /**
     * Who may connect to a listener; empty for the transport's default ({@link AccessPolicy#sameUser()} on Unix
     * sockets, {@link AccessPolicy#anyone()} on TCP).
     */
    public Optional<AccessPolicy> accessPolicy() {
        return Optional.ofNullable(accessPolicy);
    }

    /**
     * How long a server waits for a new connection's hello, and a client for the answer; zero for no limit. Query key
     * handshakeTimeout, default 5s.
     */
    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    /**
     * How long a server keeps a connection that has no request in flight and sends nothing; zero for no limit. Query
     * key idleTimeout, default 0.
     */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /**
     * How long a server waits for the rest of a frame that has begun to arrive (slow-loris); zero for no limit. Query
     * key frameTimeout, default 30s.
     */
    public Duration frameTimeout() {
        return frameTimeout;
    }

    /**
     * How long a server lets one write to a connection stall, its peer reading nothing, before it closes that
     * connection (slow or stuck consumers); zero for no limit. A single write is at most 1 MiB, so this also sets the
     * slowest reader served: 1 MiB per writeTimeout. Query key writeTimeout, default 30s.
     */
    public Duration writeTimeout() {
        return writeTimeout;
    }

    /**
     * How long a closing server lets requests in flight finish before it closes their connections. Query key
     * shutdownTimeout, default 10s.
     */
    public Duration shutdownTimeout() {
        return shutdownTimeout;
    }

    /** How long a client call waits for its reply; zero for no limit. Query key callTimeout, default 30s. */
    public Duration callTimeout() {
        return callTimeout;
    }

    /**
     * How long a client keeps retrying, with backoff, to reconnect for a call; zero to try once. Query key
     * reconnectTimeout, default 5s.
     */
    public Duration reconnectTimeout() {
        return reconnectTimeout;
    }

    /**
     * How many connections a server holds at once; more are refused with an error frame. Query key maxConnections,
     * default 1024.
     */
    public int maxConnections() {
        return maxConnections;
    }

    /**
     * How many connections one peer user (uid, on Unix sockets) may hold; 0 for no limit. Query key
     * maxConnectionsPerPeer, default 0.
     */
    public int maxConnectionsPerPeer() {
        return maxConnectionsPerPeer;
    }

    /**
     * How many requests one connection may have in flight; more are answered TOO_MANY_REQUESTS. Query key maxInFlight,
     * default 128.
     */
    public int maxInFlight() {
        return maxInFlight;
    }

    /** Keys and trust for {@code tls://} endpoints; see {@link TlsOptions} for the query keys. */
    public TlsOptions tls() {
        return tls;
    }

    /**
     * The shared secret both sides must prove they know before any application byte passes (a mutual HMAC-SHA256
     * challenge-response, {@code docs/PROTOCOL.md}); empty for none. On any transport; on loopback TCP it keeps out the
     * other local users that could otherwise connect. Query keys {@code secretFile} and {@code secretEnv}.
     */
    public Optional<Secret> secret() {
        return Optional.ofNullable(secret);
    }

    /**
     * Whether a {@code tcp://} listener may bind an address other than loopback, where traffic would cross a network
     * unencrypted; refused unless this is true (and then logged at warn). Query key {@code allowInsecurePlaintext},
     * default false.
     */
    public boolean allowInsecurePlaintext() {
        return allowInsecurePlaintext;
    }

    @Override
    public boolean equals(Object other) {
        if (this == other) {
            return true;
        }
        if (!(other instanceof IpcOptions)) {
            return false;
        }
        IpcOptions that = (IpcOptions) other;
        return connectTimeout.equals(that.connectTimeout)
                && readTimeout.equals(that.readTimeout)
                && acceptTimeout.equals(that.acceptTimeout)
                && maxFrameSize == that.maxFrameSize
                && backlog == that.backlog
                && unixBackend == that.unixBackend
                && socketFileMode == that.socketFileMode
                && Objects.equals(socketFileGroup, that.socketFileGroup)
                && Objects.equals(accessPolicy, that.accessPolicy)
                && handshakeTimeout.equals(that.handshakeTimeout)
                && idleTimeout.equals(that.idleTimeout)
                && frameTimeout.equals(that.frameTimeout)
                && writeTimeout.equals(that.writeTimeout)
                && shutdownTimeout.equals(that.shutdownTimeout)
                && callTimeout.equals(that.callTimeout)
                && reconnectTimeout.equals(that.reconnectTimeout)
                && maxConnections == that.maxConnections
                && maxConnectionsPerPeer == that.maxConnectionsPerPeer
                && maxInFlight == that.maxInFlight
                && tls.equals(that.tls)
                && Objects.equals(secret, that.secret)
                && allowInsecurePlaintext == that.allowInsecurePlaintext;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                connectTimeout,
                readTimeout,
                acceptTimeout,
                maxFrameSize,
                backlog,
                unixBackend,
                socketFileMode,
                socketFileGroup,
                accessPolicy,
                handshakeTimeout,
                idleTimeout,
                frameTimeout,
                writeTimeout,
                shutdownTimeout,
                callTimeout,
                reconnectTimeout,
                maxConnections,
                maxConnectionsPerPeer,
                maxInFlight,
                tls,
                secret,
                allowInsecurePlaintext);
    }

    @Override
    public String toString() {
        return "IpcOptions{connectTimeout=" + connectTimeout + ", readTimeout=" + readTimeout
                + ", acceptTimeout=" + acceptTimeout + ", maxFrameSize=" + maxFrameSize
                + ", backlog=" + backlog + ", backend=" + unixBackend.configName()
                + ", mode=0" + Integer.toOctalString(socketFileMode)
                + (socketFileGroup == null ? "" : ", group=" + socketFileGroup)
                + (accessPolicy == null ? "" : ", access=" + accessPolicy)
                + ", handshakeTimeout=" + handshakeTimeout
                + ", idleTimeout=" + idleTimeout
                + ", frameTimeout=" + frameTimeout
                + ", writeTimeout=" + writeTimeout
                + ", shutdownTimeout=" + shutdownTimeout
                + ", callTimeout=" + callTimeout
                + ", reconnectTimeout=" + reconnectTimeout
                + ", maxConnections=" + maxConnections
                + ", maxConnectionsPerPeer=" + maxConnectionsPerPeer
                + ", maxInFlight=" + maxInFlight
                + (tls.equals(TlsOptions.none()) ? "" : ", tls=" + tls)
                + (secret == null ? "" : ", secret=" + secret)
                + (allowInsecurePlaintext ? ", allowInsecurePlaintext=true" : "") + "}";
    }

    static Duration parseDuration(String text) {
        String value = text.trim();
        try {
            if (value.startsWith("P") || value.startsWith("p")) {
                return Duration.parse(value);
            }
            if (value.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
            }
            long amount = Long.parseLong(value.substring(0, Math.max(0, value.length() - 1)));
            switch (value.isEmpty() ? ' ' : value.charAt(value.length() - 1)) {
                case 's':
                    return Duration.ofSeconds(amount);
                case 'm':
                    return Duration.ofMinutes(amount);
                case 'h':
                    return Duration.ofHours(amount);
                default:
                    break;
            }
        } catch (NumberFormatException | DateTimeParseException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("'" + text + "' is not a duration (write 250ms, 5s, 2m, 1h or PT5S)");
    }

    static int parseSize(String text) {
        String value = text.trim();
        long unit = 1;
        for (String[] suffix : new String[][] {{"KiB", "1024"}, {"MiB", "1048576"}, {"GiB", "1073741824"}}) {
            if (value.endsWith(suffix[0])) {
                unit = Long.parseLong(suffix[1]);
                value = value.substring(0, value.length() - suffix[0].length());
                break;
            }
        }
        try {
            long size = Math.multiplyExact(Long.parseLong(value), unit);
            if (size > Integer.MAX_VALUE || size < Integer.MIN_VALUE) {
                throw new IllegalArgumentException("'" + text + "' is over " + Integer.MAX_VALUE);
            }
            return (int) size;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size (write 4096, 64KiB or 16MiB)", e);
        }
    }

    private static boolean parseBoolean(String text) {
        if (text.equals("true") || text.equals("false")) {
            return Boolean.parseBoolean(text);
        }
        throw new IllegalArgumentException("must be true or false, was '" + text + "'");
    }

    private static int parseMode(String text) {
        if (!text.matches("0?[0-7]{3}")) {
            throw new IllegalArgumentException(
                    "mode must be three octal digits such as 0600 or 0660, was '" + text + "'");
        }
        return Integer.parseInt(text, 8);
    }

    private static AccessPolicy parseAccess(String text) {
        if (text.equals("same-user")) {
            return AccessPolicy.sameUser();
        }
        if (text.equals("anyone")) {
            return AccessPolicy.anyone();
        }
        if (text.matches("(uid|gid):[0-9]+(,[0-9]+)*")) {
            long[] ids = Arrays.stream(text.substring(4).split(","))
                    .mapToLong(Long::parseLong)
                    .toArray();
            return text.startsWith("uid") ? AccessPolicy.uids(ids) : AccessPolicy.gids(ids);
        }
        if (text.startsWith("cn:") && text.length() > 3) {
            return AccessPolicy.commonNames(text.substring(3).split(","));
        }
        throw new IllegalArgumentException("access must be same-user, anyone, uid:N[,N...], gid:N[,N...] or "
                + "cn:NAME[,NAME...], was '" + text + "'");
    }

    private static UnixBackend parseBackend(String text) {
        for (UnixBackend backend : UnixBackend.values()) {
            if (backend.configName().equals(text)) {
                return backend;
            }
        }
        throw new IllegalArgumentException("backend must be auto, jdk or junixsocket, was '" + text + "'");
    }

    /** Builds {@link IpcOptions}; not thread-safe. */
    public static final class Builder {
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration readTimeout = Duration.ZERO;
        private Duration acceptTimeout = Duration.ZERO;
        private int maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
        private int backlog = DEFAULT_BACKLOG;
        private UnixBackend unixBackend = UnixBackend.AUTO;
        private int socketFileMode = 0600;
        private String socketFileGroup;
        private AccessPolicy accessPolicy;
        private Duration handshakeTimeout = Duration.ofSeconds(5);
        private Duration idleTimeout = Duration.ZERO;
        private Duration frameTimeout = Duration.ofSeconds(30);
        private Duration writeTimeout = Duration.ofSeconds(30);
        private Duration shutdownTimeout = Duration.ofSeconds(10);
        private Duration callTimeout = Duration.ofSeconds(30);
        private Duration reconnectTimeout = Duration.ofSeconds(5);
        private int maxConnections = 1024;
        private int maxConnectionsPerPeer = 0;
        private int maxInFlight = 128;
        private TlsOptions tls = TlsOptions.none();
        private Secret secret;
        private boolean allowInsecurePlaintext;

        private Builder() {}

        private Builder(IpcOptions options) {
            this.connectTimeout = options.connectTimeout;
            this.readTimeout = options.readTimeout;
            this.acceptTimeout = options.acceptTimeout;
            this.maxFrameSize = options.maxFrameSize;
            this.backlog = options.backlog;
            this.unixBackend = options.unixBackend;
            this.socketFileMode = options.socketFileMode;
            this.socketFileGroup = options.socketFileGroup;
            this.accessPolicy = options.accessPolicy;
            this.handshakeTimeout = options.handshakeTimeout;
            this.idleTimeout = options.idleTimeout;
            this.frameTimeout = options.frameTimeout;
            this.writeTimeout = options.writeTimeout;
            this.shutdownTimeout = options.shutdownTimeout;
            this.callTimeout = options.callTimeout;
            this.reconnectTimeout = options.reconnectTimeout;
            this.maxConnections = options.maxConnections;
            this.maxConnectionsPerPeer = options.maxConnectionsPerPeer;
            this.maxInFlight = options.maxInFlight;
            this.tls = options.tls;
            this.secret = options.secret;
            this.allowInsecurePlaintext = options.allowInsecurePlaintext;
        }

        /** See {@link IpcOptions#connectTimeout()}; zero for none. */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = Objects.requireNonNull(timeout, "connectTimeout");
            return this;
        }

        /** See {@link IpcOptions#readTimeout()}; zero for none. */
        public Builder readTimeout(Duration timeout) {
            this.readTimeout = Objects.requireNonNull(timeout, "readTimeout");
            return this;
        }

        /** See {@link IpcOptions#acceptTimeout()}; zero for none. */
        public Builder acceptTimeout(Duration timeout) {
            this.acceptTimeout = Objects.requireNonNull(timeout, "acceptTimeout");
            return this;
        }

        /** See {@link IpcOptions#maxFrameSize()}; 1 to {@link Integer#MAX_VALUE}. */
        public Builder maxFrameSize(int bytes) {
            this.maxFrameSize = bytes;
            return this;
        }

        /** See {@link IpcOptions#backlog()}; 1 to 65535. */
        public Builder backlog(int backlog) {
            this.backlog = backlog;
            return this;
        }

        /** See {@link IpcOptions#unixBackend()}. */
        public Builder unixBackend(UnixBackend backend) {
            this.unixBackend = Objects.requireNonNull(backend, "unixBackend");
            return this;
        }

        /** See {@link IpcOptions#socketFileMode()}; permission bits from {@code 0} to {@code 0777}. */
        public Builder socketFileMode(int mode) {
            this.socketFileMode = mode;
            return this;
        }

        /** See {@link IpcOptions#socketFileGroup()}; null to keep the process's group. */
        public Builder socketFileGroup(String group) {
            this.socketFileGroup = group;
            return this;
        }

        /** See {@link IpcOptions#accessPolicy()}; null for the transport's default. */
        public Builder accessPolicy(AccessPolicy policy) {
            this.accessPolicy = policy;
            return this;
        }

        /** See {@link IpcOptions#handshakeTimeout()}. */
        public Builder handshakeTimeout(Duration timeout) {
            this.handshakeTimeout = Objects.requireNonNull(timeout, "handshakeTimeout");
            return this;
        }

        /** See {@link IpcOptions#idleTimeout()}. */
        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = Objects.requireNonNull(timeout, "idleTimeout");
            return this;
        }

        /** See {@link IpcOptions#frameTimeout()}. */
        public Builder frameTimeout(Duration timeout) {
            this.frameTimeout = Objects.requireNonNull(timeout, "frameTimeout");
            return this;
        }

        /** See {@link IpcOptions#writeTimeout()}. */
        public Builder writeTimeout(Duration timeout) {
            this.writeTimeout = Objects.requireNonNull(timeout, "writeTimeout");
            return this;
        }

        /** See {@link IpcOptions#shutdownTimeout()}. */
        public Builder shutdownTimeout(Duration timeout) {
            this.shutdownTimeout = Objects.requireNonNull(timeout, "shutdownTimeout");
            return this;
        }

        /** See {@link IpcOptions#callTimeout()}. */
        public Builder callTimeout(Duration timeout) {
            this.callTimeout = Objects.requireNonNull(timeout, "callTimeout");
            return this;
        }

        /** See {@link IpcOptions#reconnectTimeout()}. */
        public Builder reconnectTimeout(Duration timeout) {
            this.reconnectTimeout = Objects.requireNonNull(timeout, "reconnectTimeout");
            return this;
        }

        /** See {@link IpcOptions#maxConnections()}; 1 to 1000000. */
        public Builder maxConnections(int value) {
            this.maxConnections = value;
            return this;
        }

        /** See {@link IpcOptions#maxConnectionsPerPeer()}; 0 to 1000000. */
        public Builder maxConnectionsPerPeer(int value) {
            this.maxConnectionsPerPeer = value;
            return this;
        }

        /** See {@link IpcOptions#maxInFlight()}; 1 to 1000000. */
        public Builder maxInFlight(int value) {
            this.maxInFlight = value;
            return this;
        }

        /** See {@link IpcOptions#tls()}. */
        public Builder tls(TlsOptions tls) {
            this.tls = Objects.requireNonNull(tls, "tls");
            return this;
        }

        /** See {@link IpcOptions#secret()}; null for none. */
        public Builder secret(Secret secret) {
            this.secret = secret;
            return this;
        }

        /** See {@link IpcOptions#allowInsecurePlaintext()}. */
        public Builder allowInsecurePlaintext(boolean allow) {
            this.allowInsecurePlaintext = allow;
            return this;
        }

        /**
         * The options.
         *
         * @throws IllegalArgumentException naming the field, its bounds and its value, if one is out of bounds
         */
        public IpcOptions build() {
            checkDuration("connectTimeout", connectTimeout);
            checkDuration("readTimeout", readTimeout);
            checkDuration("acceptTimeout", acceptTimeout);
            if (maxFrameSize < 1) {
                throw new IllegalArgumentException(
                        "maxFrameSize must be between 1 and " + Integer.MAX_VALUE + ", was " + maxFrameSize);
            }
            if (backlog < 1 || backlog > 65535) {
                throw new IllegalArgumentException("backlog must be between 1 and 65535, was " + backlog);
            }
            if (socketFileMode < 0 || socketFileMode > 0777) {
                throw new IllegalArgumentException(
                        "socketFileMode must be between 0 and 0777, was 0" + Integer.toOctalString(socketFileMode));
            }
            if ((socketFileMode & 0600) != 0600) {
                throw new IllegalArgumentException("socketFileMode must let the owner read and write (0600), was 0"
                        + Integer.toOctalString(socketFileMode));
            }
            checkDuration("handshakeTimeout", handshakeTimeout);
            checkDuration("idleTimeout", idleTimeout);
            checkDuration("frameTimeout", frameTimeout);
            checkDuration("writeTimeout", writeTimeout);
            checkDuration("shutdownTimeout", shutdownTimeout);
            checkDuration("callTimeout", callTimeout);
            checkDuration("reconnectTimeout", reconnectTimeout);
            if (maxConnections < 1 || maxConnections > 1000000) {
                throw new IllegalArgumentException(
                        "maxConnections must be between 1 and 1000000, was " + maxConnections);
            }
            if (maxConnectionsPerPeer < 0 || maxConnectionsPerPeer > 1000000) {
                throw new IllegalArgumentException(
                        "maxConnectionsPerPeer must be between 0 and 1000000, was " + maxConnectionsPerPeer);
            }
            if (maxInFlight < 1 || maxInFlight > 1000000) {
                throw new IllegalArgumentException("maxInFlight must be between 1 and 1000000, was " + maxInFlight);
            }
            if (socketFileGroup != null && socketFileGroup.isEmpty()) {
                throw new IllegalArgumentException("socketFileGroup must not be empty");
            }
            return new IpcOptions(this);
        }

        private static void checkDuration(String field, Duration value) {
            if (value.isNegative()) {
                throw new IllegalArgumentException(field + " must be zero (none) or positive, was " + value);
            }
            try {
                value.toNanos();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(field + " must be at most 292 years, was " + value, e);
            }
        }
    }
}
