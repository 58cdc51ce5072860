package dev.ipc.tcp;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.internal.ChannelListener;
import dev.ipc.internal.ChannelTraits;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.ReadinessWaiter;
import dev.ipc.spi.Suitability;
import dev.ipc.spi.Transport;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TCP through the JDK's channels, on loopback or across a network, for {@code tcp://host:port} endpoints.
 *
 * <p>Every connection has {@code TCP_NODELAY} on, so a small message leaves at once. A listener binds only the address
 * its endpoint names (a name is resolved to its first address); {@code 0.0.0.0} or {@code [::]} bind every address.
 * Plain TCP is for loopback: a listener on any other address is refused unless
 * {@link ConnectionOptions#ALLOW_INSECURE_PLAINTEXT} says otherwise (use {@code tls://} there). Loopback is not private
 * either, since every local user can connect: require a shared secret ({@link ConnectionOptions#SECRET}) where that
 * matters. A client tries each address of a name in turn within the connect timeout. Peer credentials are unknown over
 * TCP.
 */
public final class TcpTransport implements Transport {

    private static final Logger LOG = LoggerFactory.getLogger(TcpTransport.class);
    private static final ChannelTraits NO_DESCRIPTORS =
            ChannelTraits.plain("file descriptors pass only over Unix sockets, not TCP");

    /** Public for {@link java.util.ServiceLoader}. */
    public TcpTransport() {}

    @Override
    public String scheme() {
        return Endpoint.TCP;
    }

    @Override
    public String name() {
        return "jdk";
    }

    @Override
    public boolean isAvailable() {
        return true;
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.empty();
    }

    @Override
    public Suitability suitability(Endpoint endpoint, ConnectionOptions options) {
        return Suitability.suitable(Suitability.PREFERRED, "the JDK's TCP channels");
    }

    @Override
    public FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException {
        ServerSocketChannel channel = bind(endpoint, options, false);
        try {
            Endpoint bound = boundEndpoint(channel, endpoint);
            return new ChannelListener(
                    channel,
                    bound,
                    options,
                    accepted -> wrap(accepted, bound, options, "server"),
                    options.find(ConnectionOptions.ACCESS).orElse(AccessPolicy.anyone()),
                    () -> {});
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    @Override
    public FramedConnection connect(Endpoint endpoint, ConnectionOptions options) throws IOException {
        SocketChannel channel = open(
                endpoint,
                options,
                System.nanoTime()
                        + options.get(ConnectionOptions.CONNECT_TIMEOUT).toNanos());
        try {
            return wrap(channel, localEndpointOf(channel), options, "client to " + endpoint.withoutParameters());
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    /**
     * Binds the address an endpoint names. Unless {@code encrypted}, an address other than loopback is refused without
     * {@link ConnectionOptions#ALLOW_INSECURE_PLAINTEXT}, and warned of with it.
     */
    static ServerSocketChannel bind(Endpoint endpoint, ConnectionOptions options, boolean encrypted)
            throws IOException {
        InetAddress address = resolve(endpoint)[0];
        if (!encrypted) {
            requireLoopbackUnlessAllowed(
                    endpoint,
                    address,
                    options.get(ConnectionOptions.ALLOW_INSECURE_PLAINTEXT),
                    "listen on",
                    "anyone on the network could connect, read and change the traffic. Use tls://"
                            + endpoint.withoutParameters().toString().substring("tcp://".length())
                            + " with a certificate, bind 127.0.0.1",
                    options.find(ConnectionOptions.SECRET).isPresent()
                            ? ""
                            : " and anyone who can reach the port may connect");
        }
        ServerSocketChannel channel = ServerSocketChannel.open(familyOf(address));
        try {
            channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            try {
                channel.bind(new InetSocketAddress(address, endpoint.port()), options.get(ConnectionOptions.BACKLOG));
            } catch (BindException e) {
                BindException named = new BindException("cannot listen on " + endpoint + " ("
                        + address.getHostAddress() + "): " + e.getMessage()
                        + ("Address already in use".equals(e.getMessage()) ? ": another socket holds that port" : ""));
                named.initCause(e);
                throw named;
            }
            return channel;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    /**
     * Refuses an address other than loopback for plaintext unless {@code allowed}, and warns of it when allowed.
     *
     * @param risk what binding there risks and what to do instead, ending where the message adds the way to accept it
     * @param exposure what the warning adds after "unencrypted", or empty
     */
    static void requireLoopbackUnlessAllowed(
            Endpoint endpoint, InetAddress address, boolean allowed, String verb, String risk, String exposure) {
        if (address.isLoopbackAddress()) {
            return;
        }
        String where = address.isAnyLocalAddress() ? "every address of this host" : address.getHostAddress();
        if (!allowed) {
            throw new IllegalArgumentException("refusing to " + verb + " " + endpoint.withoutParameters() + " ("
                    + where + ") without TLS: " + risk + ", or, to accept the risk, set allowInsecurePlaintext=true "
                    + "in the endpoint's query (ConnectionOptions.ALLOW_INSECURE_PLAINTEXT)");
        }
        LOG.warn(
                "{} {} ({}) without TLS, as allowInsecurePlaintext asks: traffic crosses the network unencrypted{}",
                verb.equals("listen on") ? "listening on" : "bound to",
                endpoint.withoutParameters(),
                where,
                exposure);
    }

    /** The endpoint with the port actually bound. */
    static Endpoint boundEndpoint(ServerSocketChannel channel, Endpoint endpoint) throws IOException {
        return endpoint.withPort(((InetSocketAddress) channel.getLocalAddress()).getPort());
    }

    /** The local end of a connected channel, as an endpoint. */
    static Endpoint localEndpointOf(SocketChannel channel) throws IOException {
        InetSocketAddress local = (InetSocketAddress) channel.getLocalAddress();
        return Endpoint.tcp(local.getAddress().getHostAddress(), local.getPort());
    }

    /**
     * Connects a channel to the endpoint, trying each of its addresses in turn until {@code deadline}
     * ({@link System#nanoTime()}); the channel is left in non-blocking mode.
     */
    static SocketChannel open(Endpoint endpoint, ConnectionOptions options, long deadline) throws IOException {
        boolean timed = !options.get(ConnectionOptions.CONNECT_TIMEOUT).isZero();
        IOException failure = null;
        for (InetAddress address : resolve(endpoint)) {
            SocketChannel channel = SocketChannel.open(familyOf(address));
            try {
                channel.configureBlocking(false);
                if (!channel.connect(new InetSocketAddress(address, endpoint.port()))) {
                    try (ReadinessWaiter waiter = new ReadinessWaiter(channel, SelectionKey.OP_CONNECT)) {
                        while (!channel.finishConnect()) {
                            long left = deadline - System.nanoTime();
                            if (timed && left <= 0) {
                                throw new SocketTimeoutException("connect to " + endpoint + " ("
                                        + address.getHostAddress() + ") timed out after connectTimeout "
                                        + options.get(ConnectionOptions.CONNECT_TIMEOUT));
                            }
                            waiter.await(timed ? left : 0);
                        }
                    }
                }
                return channel;
            } catch (SocketTimeoutException e) {
                Closer.closeQuietly(channel, e);
                throw e;
            } catch (IOException e) {
                Closer.closeQuietly(channel, e);
                IOException named = new ConnectException("cannot connect to " + endpoint + " ("
                        + address.getHostAddress() + "): " + e.getMessage()
                        + ("Connection refused".equals(e.getMessage()) ? ": nothing listens on that port" : ""));
                named.initCause(e);
                if (failure == null) {
                    failure = named;
                } else {
                    failure.addSuppressed(named);
                }
            } catch (RuntimeException e) {
                Closer.closeQuietly(channel, e);
                throw e;
            }
        }
        throw failure;
    }

    private FramedConnection wrap(SocketChannel channel, Endpoint local, ConnectionOptions options, String side)
            throws IOException {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        return new ChannelConnection(
                channel,
                local,
                PeerCredentials.unknown(),
                options,
                local.withoutParameters() + " (" + id() + ", " + side + ")",
                NO_DESCRIPTORS);
    }

    /** The addresses of the endpoint's host, in the resolver's order. */
    static InetAddress[] resolve(Endpoint endpoint) throws UnknownHostException {
        try {
            return InetAddress.getAllByName(endpoint.host());
        } catch (UnknownHostException e) {
            UnknownHostException named =
                    new UnknownHostException("cannot resolve the host of " + endpoint + ": " + e.getMessage());
            named.initCause(e);
            throw named;
        }
    }

    static ProtocolFamily familyOf(InetAddress address) {
        return address instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
    }

    @Override
    public String toString() {
        return id();
    }
}
