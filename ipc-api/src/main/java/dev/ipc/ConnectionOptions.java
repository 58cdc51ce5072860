package dev.ipc;

import static dev.ipc.Option.Scope.BIND_DATAGRAM;
import static dev.ipc.Option.Scope.CLIENT;
import static dev.ipc.Option.Scope.CONNECT;
import static dev.ipc.Option.Scope.CONNECT_DATAGRAM;
import static dev.ipc.Option.Scope.LISTEN;
import static dev.ipc.Option.Scope.SERVER;

import dev.ipc.Option.Scope;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Settings for listeners and connections ({@link Ipc#listen}, {@link Ipc#connect}): timeouts, the frame limit, the
 * backend, the socket file, who may connect, the secret, and TLS's ({@link TlsOptions}). {@link ServerOptions} and
 * {@link ClientOptions} take those of these that a server or a client honours too.
 *
 * <p>Immutable; each value is checked when it is set. A zero {@link Duration} means "no timeout". The same settings can
 * be written in an endpoint's query, and the query wins over the program's values:
 *
 * <pre>
 *   unix:/run/app.sock?backend=junixsocket&amp;readTimeout=30s&amp;maxFrameSize=16MiB
 *   unix:/run/app/app.sock?mode=0660&amp;group=ops&amp;access=gid:1001
 * </pre>
 *
 * Durations there are written {@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h} or in ISO-8601 ({@code PT5S}); sizes in
 * bytes, optionally with {@code KiB}, {@code MiB} or {@code GiB}. A key that the reader does not honour is refused with
 * a message that names who takes it: {@code callTimeout} on {@link Ipc#listen}, or {@code mode} on a {@code tcp://}
 * endpoint.
 */
public final class ConnectionOptions extends OptionSet {

    /** Which implementation carries {@code unix:} endpoints. */
    public enum UnixBackend {
        /** The JDK's channels, unless the endpoint needs a feature only junixsocket has, or the JDK lacks them. */
        AUTO,
        /** The JDK's {@code UnixDomainSocketAddress} channels (no native code). */
        JDK,
        /** junixsocket (native code; abstract namespace, peer pid). */
        JUNIXSOCKET
    }

    /** Whether a {@code unix:} connection carries its data in shared memory; see {@link #SHARED_MEMORY}. */
    public enum SharedMemory {
        /** The socket carries the data; a listener declines clients that ask, saying so. */
        OFF,
        /**
         * A client asks for shared memory and, where it is declined or can't be asked for, uses the socket and logs
         * why; a listener grants every client that asks, and serves the others over the socket.
         */
        ON,
        /**
         * A client asks, and fails where it is declined; a listener grants every client that asks and closes those that
         * don't.
         */
        REQUIRE
    }

    /** How long a connect may take before it fails with a {@code SocketTimeoutException}; zero for no limit. */
    public static final Option<Duration> CONNECT_TIMEOUT = Option.duration(
                    "connectTimeout", Duration.ofSeconds(10), "How long a connect may take; zero for no limit.")
            .scopes(CONNECT, CLIENT)
            .build();

    /**
     * How long a read on a {@link Connection}, or a {@link DatagramSocket#receive()}, waits for data before it fails
     * with a {@code SocketTimeoutException} (the connection or socket stays usable); zero for no limit. The runtime
     * reads with its own timeouts instead.
     */
    public static final Option<Duration> READ_TIMEOUT = Option.duration(
                    "readTimeout", Duration.ZERO, "How long a read waits for data; zero for no limit.")
            .scopes(LISTEN, CONNECT, BIND_DATAGRAM, CONNECT_DATAGRAM)
            .build();

    /**
     * How long {@link Connection#close()} waits for messages it accepted ({@link Connection#write(byte[])}, or a
     * {@link Connection#send(byte[])} that queued behind another thread's) to reach the kernel before it drops them and
     * says how many; zero for no limit.
     */
    public static final Option<Duration> CLOSE_TIMEOUT = Option.duration(
                    "closeTimeout",
                    Duration.ofSeconds(5),
                    "How long close waits to send queued messages; zero for no limit.")
            .scopes(LISTEN, CONNECT)
            .build();

    /** How long {@link Listener#accept()} waits for a connection; zero for no limit. */
    public static final Option<Duration> ACCEPT_TIMEOUT = Option.duration(
                    "acceptTimeout", Duration.ZERO, "How long an accept waits; zero for no limit.")
            .scopes(LISTEN)
            .build();

    /**
     * The largest message, in bytes: the payload of a frame on a {@link Connection}, and of a request or reply in the
     * runtime (whose frame is 5 bytes longer: its type and id).
     */
    public static final Option<Integer> MAX_FRAME_SIZE = Option.size(
                    "maxFrameSize", 4 * 1024 * 1024, 1, Integer.MAX_VALUE, "The largest message, in bytes.")
            .build();

    /** The listen backlog: how many connections the OS queues before they are accepted; 511, as Redis and nginx. */
    public static final Option<Integer> BACKLOG = Option.size(
                    "backlog", 511, 1, 65535, "How many connections the OS queues before they are accepted.")
            .scopes(LISTEN, SERVER)
            .build();

    /** Which implementation carries {@code unix:} endpoints. */
    public static final Option<UnixBackend> BACKEND = Option.choice(
                    "backend", UnixBackend.class, UnixBackend.AUTO, "Which implementation carries unix: endpoints.")
            .schemes(Endpoint.UNIX)
            .build();

    /**
     * The permission bits of a socket file a listener (or a bound {@code unixgram:} socket) creates; the owner must
     * keep read and write. Write permission is what lets another user connect, or send a datagram.
     */
    public static final Option<Integer> MODE = Option.of(
                    "mode", Integer.class, 0600, "The permission bits of the socket file.")
            .scopes(LISTEN, SERVER, BIND_DATAGRAM)
            .schemes(Endpoint.UNIX, Endpoint.UNIXGRAM)
            .parser(text -> {
                if (!text.matches("0?[0-7]{3}")) {
                    throw new IllegalArgumentException(
                            "mode must be three octal digits such as 0600 or 0660, was '" + text + "'");
                }
                return Integer.parseInt(text, 8);
            })
            .check(mode -> mode < 0 || mode > 0777 || (mode & 0600) != 0600
                    ? "mode must be between 0600 and 0777 and let the owner read and write (0600), was 0"
                            + Integer.toOctalString(mode)
                    : null)
            .build();

    /** The group a listener gives its socket file, by name; unset to keep the process's group. */
    public static final Option<String> GROUP = Option.of(
                    "group", String.class, null, "The group of the socket file; the process's if unset.")
            .scopes(LISTEN, SERVER, BIND_DATAGRAM)
            .schemes(Endpoint.UNIX, Endpoint.UNIXGRAM)
            .parser(text -> text)
            .check(group -> group.isEmpty() ? "group must not be empty" : null)
            .build();

    /**
     * Who may connect to a listener; unset for the transport's default: the same user on Unix sockets, anyone on TCP
     * and TLS. Datagrams carry no credentials that the library can read, so a bound datagram socket takes only
     * {@code anyone}, which a {@code unixgram:@name} socket must state (see {@link DatagramSocket}). Written
     * {@code same-user}, {@code anyone}, {@code uid:N,...}, {@code gid:N,...} or {@code cn:NAME,...}.
     */
    public static final Option<AccessPolicy> ACCESS = Option.of(
                    "access", AccessPolicy.class, null, "Who may connect; the transport's default if unset.")
            .scopes(LISTEN, SERVER, BIND_DATAGRAM)
            .parser(ConnectionOptions::parseAccess)
            .build();

    /**
     * The shared secret both sides must prove they know before any application byte passes (a mutual HMAC-SHA256
     * challenge-response, {@code docs/PROTOCOL.md}); unset for none. Written {@code secretFile=PATH} or
     * {@code secretEnv=VARIABLE}, never as the secret itself.
     */
    public static final Option<Secret> SECRET = Option.of(
                    "secret", Secret.class, null, "The shared secret both sides must prove; none if unset.")
            .keys("secretFile", "secretEnv")
            .parser((key, value, current) ->
                    key.equals("secretFile") ? Secret.fromFile(Path.of(value)) : Secret.fromEnv(value))
            .build();

    /**
     * Whether a {@code tcp://} listener, or a bound {@code udp://} socket, may bind an address other than loopback,
     * where traffic would cross a network unencrypted; refused unless this is true (and then logged at warn).
     */
    public static final Option<Boolean> ALLOW_INSECURE_PLAINTEXT = Option.flag(
                    "allowInsecurePlaintext", false, "Whether tcp:// or udp:// may bind an address beyond loopback.")
            .scopes(LISTEN, SERVER, BIND_DATAGRAM)
            .schemes(Endpoint.TCP, Endpoint.UDP)
            .build();

    /**
     * How long the handshakes may take: the shared secret's and TLS's on both sides, and in the runtime the server's
     * wait for a HELLO and the client's for the WELCOME; zero for no limit.
     */
    public static final Option<Duration> HANDSHAKE_TIMEOUT = Option.duration(
                    "handshakeTimeout", Duration.ofSeconds(5), "How long a handshake may take; zero for no limit.")
            .build();

    /**
     * How many connections a listener holds that have not finished their handshake (TLS's, the shared secret's, and in
     * the runtime the HELLO); past it the oldest connection of the peer holding the most is pushed out (an ERROR
     * {@code TOO_MANY_CONNECTIONS} where the protocol allows one), so silent connections cannot crowd out the ones that
     * finish. Connections past their handshake count against {@link ServerOptions#MAX_CONNECTIONS} instead.
     */
    public static final Option<Integer> MAX_HANDSHAKES = Option.size(
                    "maxHandshakes", 128, 1, 65535, "How many connections may be mid-handshake at once.")
            .scopes(LISTEN, SERVER)
            .build();

    /**
     * How many connections of one peer (a uid on Unix, an address on TCP) may be mid-handshake at once, within
     * {@link #MAX_HANDSHAKES}; past it that peer's oldest is pushed out; 0: no limit of its own.
     */
    public static final Option<Integer> MAX_HANDSHAKES_PER_PEER = Option.size(
                    "maxHandshakesPerPeer", 0, 0, 65535, "How many of them one peer may hold; 0: no limit of its own.")
            .scopes(LISTEN, SERVER)
            .build();

    /**
     * Who a client expects to be listening on a Unix socket, checked on the listener's credentials before anything is
     * sent: {@code auto} (the default: this user, root, or the owner of the socket file's directory when every
     * directory above that is root's and writable by nobody else), {@code same-user}, {@code root}, {@code uid:N},
     * {@code user:NAME}, or {@code any}. A listener the rule does not name is refused with
     * {@link UnexpectedServerException}. A {@code unixgram:} socket file's client ({@link Ipc#connectDatagram}) checks
     * the owner of the socket file (the user that bound it; the kernel gives no credentials for a datagram socket),
     * before anything is sent; an abstract name has no owner to check.
     */
    public static final Option<String> EXPECT_SERVER = Option.of(
                    "expectServer", String.class, "auto", "Who a client expects to listen on a Unix socket.")
            .scopes(CONNECT, CLIENT, CONNECT_DATAGRAM)
            .schemes(Endpoint.UNIX, Endpoint.UNIXGRAM)
            .parser(text -> text)
            .check(text -> text.matches("auto|any|same-user|root|uid:[0-9]+|user:[A-Za-z0-9._-]+")
                    ? null
                    : "expectServer is auto, any, same-user, root, uid:N or user:NAME, was '" + text + "'")
            .build();

    /**
     * Whether a {@code unix:} connection moves its data into two rings in shared memory once connected, with the socket
     * left to carry wake-ups and liveness: {@code off}, {@code on} or {@code require} (see {@link SharedMemory}). The
     * socket file, its mode, the access policy, the peer's credentials and the secret work as on any Unix socket.
     * Descriptors pass only over a socket, so both sides use the junixsocket backend for it (chosen automatically).
     */
    public static final Option<SharedMemory> SHARED_MEMORY = Option.choice(
                    "sharedMemory",
                    SharedMemory.class,
                    SharedMemory.OFF,
                    "Whether unix: data goes through shared memory: off, on or require.")
            .schemes(Endpoint.UNIX)
            .build();

    /**
     * The bytes in each side's shared-memory ring: a power of two from 4 KiB to 1 GiB. Each connection in shared memory
     * holds two rings, one per direction, each sized by its writer.
     */
    public static final Option<Integer> RING_SIZE = Option.size(
                    "ringSize", 256 * 1024, 4096, 1 << 30, "The bytes of a shared-memory ring; a power of two.")
            .schemes(Endpoint.UNIX)
            .check(size -> size < 4096 || size > 1 << 30 || Integer.bitCount(size) != 1
                    ? "ringSize must be a power of two from 4096 to 1073741824, was " + size
                    : null)
            .build();

    /**
     * How long a shared-memory reader (or a writer facing a full ring) spins before it sleeps on the socket: longer
     * trades CPU for latency; zero sleeps at once. An idle connection costs no CPU after it.
     */
    public static final Option<Duration> SPIN = Option.duration(
                    "spin", Duration.ofNanos(50_000), "How long a shared-memory reader spins before it sleeps.")
            .schemes(Endpoint.UNIX)
            .build();

    /**
     * How many file descriptors a connection takes from its peer and holds until
     * {@link Connection#takeReceivedDescriptors()}: at most this many arrive with one message, and at most this many
     * are held untaken. 0 (the default) takes none: the kernel closes any a peer attaches, so a peer can make this
     * process hold no descriptor it did not ask for. Past the bound, the extra descriptors are closed and the read
     * fails with a {@link java.net.ProtocolException} that names it. Only junixsocket's Unix connections receive
     * descriptors at all.
     */
    public static final Option<Integer> MAX_RECEIVED_DESCRIPTORS = Option.size(
                    "maxReceivedDescriptors",
                    0,
                    0,
                    253,
                    "File descriptors a connection takes from its peer and holds; 0: none.")
            .build();

    static final List<Option<?>> TABLE = List.of(
            CONNECT_TIMEOUT,
            READ_TIMEOUT,
            ACCEPT_TIMEOUT,
            CLOSE_TIMEOUT,
            MAX_FRAME_SIZE,
            BACKLOG,
            BACKEND,
            MODE,
            GROUP,
            ACCESS,
            SECRET,
            ALLOW_INSECURE_PLAINTEXT,
            HANDSHAKE_TIMEOUT,
            MAX_HANDSHAKES,
            MAX_HANDSHAKES_PER_PEER,
            EXPECT_SERVER,
            SHARED_MEMORY,
            RING_SIZE,
            SPIN,
            MAX_RECEIVED_DESCRIPTORS);

    private static final Set<Scope> SCOPES = scopesOf(LISTEN, CONNECT);
    private static final ConnectionOptions DEFAULTS = new ConnectionOptions(Map.of());

    private ConnectionOptions(Map<Option<?>, Object> values) {
        super(values);
    }

    /** The defaults: every option at its default. */
    public static ConnectionOptions defaults() {
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
    static ConnectionOptions forEndpoint(Endpoint endpoint, ConnectionOptions base, Scope reader) {
        Objects.requireNonNull(base, "options");
        if (endpoint.parameters().isEmpty()) {
            return base;
        }
        Builder builder = base.toBuilder();
        readQuery(endpoint, Set.of(reader), reader.reader(), builder.values);
        return builder.build();
    }

    /** The options of {@code from} that a listener or connection takes. */
    static Builder takenFrom(OptionSet from) {
        return builder().takeFrom(from);
    }

    @Override
    Set<Scope> scopes() {
        return SCOPES;
    }

    @Override
    String kind() {
        return "ConnectionOptions";
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

    /** Builds {@link ConnectionOptions}; not thread-safe. */
    public static final class Builder extends AbstractBuilder<Builder> {
        private Builder(ConnectionOptions from) {
            super(SCOPES, "ConnectionOptions", from);
        }

        @Override
        Builder self() {
            return this;
        }

        /** The options. */
        public ConnectionOptions build() {
            return new ConnectionOptions(values);
        }
    }
}
