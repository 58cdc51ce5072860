package dev.ipc;

import dev.ipc.internal.Closer;
import dev.ipc.internal.Deadline;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.HandshakingListener;
import dev.ipc.internal.SecretHandshake;
import dev.ipc.spi.DatagramTransport;
import dev.ipc.spi.ListenerSource;
import dev.ipc.spi.Suitability;
import dev.ipc.spi.Transport;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point: listens on and connects to endpoints through the transport that suits them.
 *
 * <pre>{@code
 * try (Listener listener = Ipc.listen(Endpoint.parse("unix:/run/app/app.sock"));
 *      Connection connection = listener.accept()) {
 *     for (byte[] message = connection.receive(); message != null; message = connection.receive()) {
 *         connection.send(message); // an echo, until the peer closes its side
 *     }
 * }
 * }</pre>
 *
 * <p>Transports are found once with {@link ServiceLoader}. For each endpoint the available transports of its scheme are
 * ranked ({@link Transport#suitability}), and the highest ranked that is available serves; the choice and its reason
 * are logged once at debug level.
 */
public final class Ipc {

    private static final Logger LOG = LoggerFactory.getLogger(Ipc.class);
    private static final Set<String> LOGGED_CHOICES = ConcurrentHashMap.newKeySet();

    private Ipc() {}

    /** Binds {@code endpoint} with the default options (and those in its query). */
    public static Listener listen(Endpoint endpoint) throws IOException {
        return listen(endpoint, ConnectionOptions.defaults());
    }

    /**
     * Binds {@code endpoint} and listens on it.
     *
     * @param options the options; those in the endpoint's query override them
     * @throws IllegalArgumentException if the query holds an unknown or invalid option
     * @throws IllegalStateException if no available transport serves the endpoint; the message lists the schemes and
     *     transports there are
     * @throws IOException if binding fails, or the options' secret can't be read; the message names the endpoint or the
     *     secret's source and the cause
     */
    public static Listener listen(Endpoint endpoint, ConnectionOptions options) throws IOException {
        return listenFramed(endpoint, options);
    }

    /**
     * {@link #listen(Endpoint, ConnectionOptions)} for the runtime, which reads its connections through the skeleton.
     */
    static FramedListener listenFramed(Endpoint endpoint, ConnectionOptions options) throws IOException {
        refuseDatagram(endpoint, "listen on", "bindDatagram");
        ConnectionOptions effective = ConnectionOptions.forEndpoint(endpoint, options, Option.Scope.LISTEN);
        ListenerSource source = sourceFor(endpoint);
        Transport transport = source == null ? choose(endpoint, effective) : null;
        byte[] secret = SecretHandshake.secretOf(effective);
        FramedListener listener =
                source != null ? source.listen(endpoint, effective) : transport.listen(endpoint, effective);
        if (secret != null && !(listener instanceof HandshakingListener)) {
            // The transport's listener has checked the access policy already, on what the OS says of the peer; a
            // transport that shakes hands itself (TLS) checks the secret there too.
            listener = new HandshakingListener(listener, effective, AccessPolicy.anyone(), secret);
        }
        return listener;
    }

    /** Connects to {@code endpoint} with the default options (and those in its query). */
    public static Connection connect(Endpoint endpoint) throws IOException {
        return connect(endpoint, ConnectionOptions.defaults());
    }

    /**
     * Connects to {@code endpoint}.
     *
     * @param options the options; those in the endpoint's query override them
     * @throws IllegalArgumentException if the query holds an unknown or invalid option
     * @throws IllegalStateException if no available transport serves the endpoint
     * @throws java.net.ConnectException if nobody listens there; the message names the endpoint
     * @throws java.net.SocketTimeoutException if the connect timeout passed
     * @throws AuthenticationException if the options name a shared secret and the server does not know it, refuses this
     *     side's proof, or asks for none
     * @throws IOException if connecting fails otherwise
     */
    public static Connection connect(Endpoint endpoint, ConnectionOptions options) throws IOException {
        return connectFramed(endpoint, options);
    }

    /**
     * {@link #connect(Endpoint, ConnectionOptions)} for the runtime, which reads its connections through the skeleton.
     */
    static FramedConnection connectFramed(Endpoint endpoint, ConnectionOptions options) throws IOException {
        refuseDatagram(endpoint, "connect to", "connectDatagram");
        ConnectionOptions effective = ConnectionOptions.forEndpoint(endpoint, options, Option.Scope.CONNECT);
        ListenerSource source = sourceFor(endpoint);
        if (source != null) {
            throw new IllegalArgumentException(source.whyNoConnect(endpoint));
        }
        Transport transport = choose(endpoint, effective);
        byte[] secret = SecretHandshake.secretOf(effective);
        FramedConnection connection = transport.connect(endpoint, effective);
        if (secret != null) {
            String peer = endpoint.withoutParameters().toString();
            try {
                Deadline.within(
                        effective.get(ConnectionOptions.HANDSHAKE_TIMEOUT),
                        connection,
                        peer + " did not finish the shared-secret " + "handshake within handshakeTimeout "
                                + effective.get(ConnectionOptions.HANDSHAKE_TIMEOUT),
                        () -> SecretHandshake.prove(connection, secret, peer));
            } catch (IOException | RuntimeException e) {
                Closer.closeQuietly(connection, e);
                throw e;
            }
        }
        return connection;
    }

    /**
     * Binds a datagram socket to {@code endpoint} ({@code udp://host:port} or {@code unixgram:}), with the default
     * options (and those in its query), to receive datagrams from anyone who may send there.
     */
    public static DatagramSocket bindDatagram(Endpoint endpoint) throws IOException {
        return bindDatagram(endpoint, DatagramOptions.defaults());
    }

    /**
     * Binds a datagram socket to {@code endpoint}: {@code udp://host:port} (port 0 picks one, read back from
     * {@link DatagramSocket#localEndpoint()}), a {@code unixgram:} socket file, created and guarded as a stream
     * listener's is (the directory, the mode, the lock, a stale file reclaimed and a live one left alone), or a
     * {@code unixgram:@name} in the abstract namespace.
     *
     * @param options the options; those in the endpoint's query override them
     * @throws IllegalArgumentException if the endpoint is not a datagram endpoint, or the query holds an option that
     *     datagram sockets do not take or a value that is not valid
     * @throws IllegalStateException if no available transport serves the scheme; the message says which module to add
     * @throws IOException if binding fails; the message names the endpoint and the cause
     */
    public static DatagramSocket bindDatagram(Endpoint endpoint, DatagramOptions options) throws IOException {
        DatagramTransport transport = datagramTransport(endpoint, "bind", "listen");
        return transport.bind(endpoint, DatagramOptions.forEndpoint(endpoint, options, Option.Scope.BIND_DATAGRAM));
    }

    /** Opens a datagram socket connected to {@code endpoint}, with the default options (and those in its query). */
    public static DatagramSocket connectDatagram(Endpoint endpoint) throws IOException {
        return connectDatagram(endpoint, DatagramOptions.defaults());
    }

    /**
     * Opens a datagram socket connected to {@code endpoint}: it sends there with {@link DatagramSocket#send(byte[])}
     * and receives from there only. It gets an address of its own to receive replies at: an ephemeral loopback port for
     * UDP, a fresh name in the abstract namespace for Unix datagrams (which only the connected peer may send to).
     *
     * @param options the options; those in the endpoint's query override them
     * @throws IllegalArgumentException as {@link #bindDatagram(Endpoint, DatagramOptions)} does
     * @throws java.net.ConnectException if nobody has bound a Unix endpoint; the message names it
     * @throws IOException if opening fails otherwise
     */
    public static DatagramSocket connectDatagram(Endpoint endpoint, DatagramOptions options) throws IOException {
        DatagramTransport transport = datagramTransport(endpoint, "connect to", "connect");
        return transport.connect(
                endpoint, DatagramOptions.forEndpoint(endpoint, options, Option.Scope.CONNECT_DATAGRAM));
    }

    private static void refuseDatagram(Endpoint endpoint, String verb, String instead) {
        Objects.requireNonNull(endpoint, "endpoint");
        if (endpoint.isDatagram()) {
            throw new IllegalArgumentException("cannot " + verb + " " + endpoint + " as a stream: " + endpoint.scheme()
                    + " endpoints carry datagrams; use Ipc." + instead + " (a DatagramSocket)");
        }
    }

    private static DatagramTransport datagramTransport(Endpoint endpoint, String verb, String streamVerb) {
        Objects.requireNonNull(endpoint, "endpoint");
        if (!endpoint.isDatagram()) {
            throw new IllegalArgumentException("cannot " + verb + " " + endpoint + " as datagrams: " + endpoint.scheme()
                    + " endpoints are streams; use Ipc." + streamVerb + " (udp:// and unixgram: carry datagrams)");
        }
        List<String> refusals = new ArrayList<>();
        for (DatagramTransport transport : Providers.DATAGRAMS) {
            if (!transport.scheme().equals(endpoint.scheme())) {
                continue;
            }
            if (transport.isAvailable()) {
                return transport;
            }
            refusals.add(transport.id() + " is unavailable: "
                    + transport.unavailabilityCause().map(Ipc::describe).orElse("no reason given"));
        }
        if (refusals.isEmpty()) {
            throw new IllegalStateException("no datagram transport for scheme '" + endpoint.scheme() + "' (endpoint "
                    + endpoint + "): add the module that serves it (ipc-tcp for udp, ipc-unix for unixgram) to the "
                    + "class path");
        }
        throw new IllegalStateException(
                "no datagram transport can serve " + endpoint + ": " + String.join("; ", refusals));
    }

    /** Every datagram transport found, available or not, in {@link ServiceLoader} order. */
    public static List<TransportInfo> datagramTransports() {
        List<TransportInfo> found = new ArrayList<>();
        for (DatagramTransport transport : Providers.DATAGRAMS) {
            found.add(info(
                    transport.scheme(), transport.name(), transport.isAvailable(), transport.unavailabilityCause()));
        }
        return List.copyOf(found);
    }

    /** Every transport found, available or not, in {@link ServiceLoader} order. */
    public static List<TransportInfo> transports() {
        List<TransportInfo> found = new ArrayList<>();
        for (Transport transport : Providers.ALL) {
            found.add(info(transport));
        }
        return List.copyOf(found);
    }

    private static TransportInfo info(Transport transport) {
        return info(transport.scheme(), transport.name(), transport.isAvailable(), transport.unavailabilityCause());
    }

    private static TransportInfo info(String scheme, String name, boolean available, Optional<Throwable> cause) {
        return new TransportInfo(
                scheme,
                name,
                available,
                available
                        ? Optional.empty()
                        : Optional.of(cause.map(Ipc::describe).orElse("no reason given")));
    }

    /**
     * The transport that {@link #listen} and {@link #connect} would use.
     *
     * @param options the effective options with the endpoint's query applied
     * @throws IllegalStateException if none suits; the message gives each candidate's reason, or the schemes that are
     *     available
     */
    public static TransportInfo transportFor(Endpoint endpoint, ConnectionOptions options) {
        refuseDatagram(endpoint, "connect to", "connectDatagram");
        return info(choose(endpoint, options));
    }

    private static Transport choose(Endpoint endpoint, ConnectionOptions options) {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(options, "options");
        List<Transport> candidates = new ArrayList<>();
        List<Suitability> ranks = new ArrayList<>();
        List<String> refusals = new ArrayList<>();
        for (Transport transport : Providers.ALL) {
            if (!transport.scheme().equals(endpoint.scheme())) {
                continue;
            }
            Suitability suitability = transport.suitability(endpoint, options);
            if (!suitability.isSuitable()) {
                refusals.add(transport.id() + " can't: " + suitability.reason());
                continue;
            }
            int at = 0;
            while (at < ranks.size() && ranks.get(at).rank() >= suitability.rank()) {
                at++;
            }
            candidates.add(at, transport);
            ranks.add(at, suitability);
        }
        // Availability is asked in rank order only, so a backend that loads native code to find out is
        // not loaded when a better one serves.
        Transport best = null;
        Suitability bestSuitability = null;
        for (int i = 0; i < candidates.size() && best == null; i++) {
            Transport transport = candidates.get(i);
            if (transport.isAvailable()) {
                best = transport;
                bestSuitability = ranks.get(i);
            } else {
                refusals.add(transport.id() + " is unavailable: "
                        + transport.unavailabilityCause().map(Ipc::describe).orElse("no reason given"));
            }
        }
        if (best == null) {
            if (refusals.isEmpty()) {
                throw new IllegalStateException("no transport for scheme '" + endpoint.scheme() + "' (endpoint "
                        + endpoint + "); schemes available: " + availableSchemes()
                        + " (add the module that serves it, such as ipc-unix or ipc-tcp, to the class path)");
            }
            throw new IllegalStateException("no transport can serve " + endpoint + ": " + String.join("; ", refusals));
        }
        if (LOG.isDebugEnabled() && LOGGED_CHOICES.add(best.id() + ' ' + bestSuitability.reason())) {
            LOG.debug("{} endpoints use transport {}: {}", endpoint.scheme(), best.id(), bestSuitability.reason());
        }
        return best;
    }

    /**
     * The source of inherited listeners for the endpoint's scheme, or null if the scheme is a transport's.
     *
     * @throws IllegalStateException if the source can't work in this process; the message says why
     */
    private static ListenerSource sourceFor(Endpoint endpoint) {
        for (ListenerSource source : Providers.SOURCES) {
            if (source.scheme().equals(endpoint.scheme())) {
                if (!source.isAvailable()) {
                    throw new IllegalStateException("cannot listen on " + endpoint + ": "
                            + source.unavailabilityCause().map(Ipc::describe).orElse("no reason given"));
                }
                return source;
            }
        }
        return null;
    }

    private static Set<String> availableSchemes() {
        Set<String> schemes = new TreeSet<>();
        for (Transport transport : Providers.ALL) {
            schemes.add(transport.scheme());
        }
        for (ListenerSource source : Providers.SOURCES) {
            schemes.add(source.scheme());
        }
        return schemes;
    }

    private static String describe(Throwable cause) {
        return cause.getMessage() == null
                ? cause.toString()
                : cause.getClass().getSimpleName() + ": " + cause.getMessage();
    }

    /** Holds the providers, loaded on first use. */
    private static final class Providers {
        static final List<Transport> ALL = load(Transport.class);
        static final List<ListenerSource> SOURCES = load(ListenerSource.class);
        static final List<DatagramTransport> DATAGRAMS = load(DatagramTransport.class);

        private static <T> List<T> load(Class<T> service) {
            List<T> found = new ArrayList<>();
            for (T provider : ServiceLoader.load(service, Ipc.class.getClassLoader())) {
                found.add(provider);
            }
            return List.copyOf(found);
        }
    }
}
