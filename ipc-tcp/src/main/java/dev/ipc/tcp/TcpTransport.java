package dev.ipc.tcp;

import dev.ipc.AccessPolicy;
import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.IpcOptions;
import dev.ipc.Listener;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.internal.ChannelListener;
import dev.ipc.internal.ChannelTraits;
import dev.ipc.internal.Closer;
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
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Optional;

/**
 * TCP through the JDK's channels, on loopback or across a network, for {@code tcp://host:port} endpoints.
 *
 * <p>Every connection has {@code TCP_NODELAY} on, so a small message leaves at once. A listener binds
 * only the address its endpoint names (a name is resolved to its first address); {@code 0.0.0.0} or
 * {@code [::]} bind every address. A client tries each address of a name in turn within the connect
 * timeout. Peer credentials are unknown over TCP.
 */
public final class TcpTransport implements Transport {

    private static final ChannelTraits NO_DESCRIPTORS =
            ChannelTraits.plain("file descriptors pass only over Unix sockets, not TCP");

    /** Public for {@link java.util.ServiceLoader}. */
    public TcpTransport() {
    }

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
    public Suitability suitability(Endpoint endpoint, IpcOptions options) {
        return Suitability.suitable(Suitability.PREFERRED, "the JDK's TCP channels");
    }

    @Override
    public Listener listen(Endpoint endpoint, IpcOptions options) throws IOException {
        InetAddress address = resolve(endpoint)[0];
        ServerSocketChannel channel = ServerSocketChannel.open(familyOf(address));
        try {
            channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            try {
                channel.bind(new InetSocketAddress(address, endpoint.port()), options.backlog());
            } catch (BindException e) {
                BindException named = new BindException("cannot listen on " + endpoint + " ("
                        + address.getHostAddress() + "): " + e.getMessage()
                        + ("Address already in use".equals(e.getMessage()) ? ": another socket holds that port" : ""));
                named.initCause(e);
                throw named;
            }
            int port = ((InetSocketAddress) channel.getLocalAddress()).getPort();
            Endpoint bound = endpoint.withPort(port);
            return new ChannelListener(channel, bound, options, accepted -> wrap(accepted, bound, options, "server"),
                    options.accessPolicy().orElse(AccessPolicy.anyone()), () -> { });
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    @Override
    public Connection connect(Endpoint endpoint, IpcOptions options) throws IOException {
        long timeoutNanos = options.connectTimeout().toNanos();
        long deadline = System.nanoTime() + timeoutNanos;
        IOException failure = null;
        for (InetAddress address : resolve(endpoint)) {
            SocketChannel channel = SocketChannel.open(familyOf(address));
            try {
                channel.configureBlocking(false);
                if (!channel.connect(new InetSocketAddress(address, endpoint.port()))) {
                    try (ReadinessWaiter waiter = new ReadinessWaiter(channel, SelectionKey.OP_CONNECT)) {
                        while (!channel.finishConnect()) {
                            long left = deadline - System.nanoTime();
                            if (timeoutNanos > 0 && left <= 0) {
                                throw new SocketTimeoutException("connect to " + endpoint + " ("
                                        + address.getHostAddress() + ") timed out after connectTimeout "
                                        + options.connectTimeout());
                            }
                            waiter.await(timeoutNanos > 0 ? left : 0);
                        }
                    }
                }
                InetSocketAddress local = (InetSocketAddress) channel.getLocalAddress();
                Endpoint localEndpoint = Endpoint.tcp(local.getAddress().getHostAddress(), local.getPort());
                return wrap(channel, localEndpoint, options, "client to " + endpoint.withoutParameters());
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

    private Connection wrap(SocketChannel channel, Endpoint local, IpcOptions options, String side)
            throws IOException {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        return new ChannelConnection(channel, local, PeerCredentials.unknown(), options,
                local.withoutParameters() + " (" + id() + ", " + side + ")", NO_DESCRIPTORS);
    }

    private static InetAddress[] resolve(Endpoint endpoint) throws UnknownHostException {
        try {
            return InetAddress.getAllByName(endpoint.host());
        } catch (UnknownHostException e) {
            UnknownHostException named = new UnknownHostException("cannot resolve the host of " + endpoint + ": "
                    + e.getMessage());
            named.initCause(e);
            throw named;
        }
    }

    private static ProtocolFamily familyOf(InetAddress address) {
        return address instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
    }

    @Override
    public String toString() {
        return id();
    }
}
