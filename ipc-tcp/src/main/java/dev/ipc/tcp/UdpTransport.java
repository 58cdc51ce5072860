package dev.ipc.tcp;

import dev.ipc.ConnectionOptions;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.internal.ChannelDatagramSocket;
import dev.ipc.internal.Closer;
import dev.ipc.spi.DatagramTransport;
import java.io.IOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;
import java.util.Optional;

/**
 * UDP through the JDK's {@link DatagramChannel}, for {@code udp://host:port} endpoints.
 *
 * <p>A bound socket takes loopback only unless {@link ConnectionOptions#ALLOW_INSECURE_PLAINTEXT} allows more: UDP has
 * neither TLS nor the shared secret, and anyone who can reach the port may send. A datagram carries at most 65,507
 * bytes over IPv4 and 65,527 over IPv6, so {@link DatagramOptions#MAX_DATAGRAM_SIZE} is refused above that.
 */
public final class UdpTransport implements DatagramTransport {

    /** The most a UDP datagram carries over IPv4: 65,535 less the IPv4 and UDP headers. */
    static final int MAX_IPV4_PAYLOAD = 65_507;
    /** The most a UDP datagram carries over IPv6 without jumbograms: 65,535 less the UDP header. */
    static final int MAX_IPV6_PAYLOAD = 65_527;

    private static final Addressing ADDRESSING = new Addressing();

    /** Public for {@link java.util.ServiceLoader}. */
    public UdpTransport() {}

    @Override
    public String scheme() {
        return Endpoint.UDP;
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
    public DatagramSocket bind(Endpoint endpoint, DatagramOptions options) throws IOException {
        InetAddress address = TcpTransport.resolve(endpoint)[0];
        TcpTransport.requireLoopbackUnlessAllowed(
                endpoint,
                address,
                options.get(ConnectionOptions.ALLOW_INSECURE_PLAINTEXT),
                "bind",
                "anyone on the network could send to it, and read what it sends. Datagrams have no TLS: use a "
                        + "tls:// stream, bind 127.0.0.1",
                "");
        int max = maxDatagramSize(endpoint, address, options);
        DatagramChannel channel = DatagramChannel.open(TcpTransport.familyOf(address));
        try {
            try {
                channel.bind(new InetSocketAddress(address, endpoint.port()));
            } catch (BindException e) {
                BindException named = new BindException("cannot bind " + endpoint + " (" + address.getHostAddress()
                        + "): " + e.getMessage()
                        + ("Address already in use".equals(e.getMessage()) ? ": another socket holds that port" : ""));
                named.initCause(e);
                throw named;
            }
            Endpoint bound = endpoint.withPort(((InetSocketAddress) channel.getLocalAddress()).getPort());
            return wrap(channel, bound, null, options, max, "bound");
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    @Override
    public DatagramSocket connect(Endpoint endpoint, DatagramOptions options) throws IOException {
        InetAddress address = TcpTransport.resolve(endpoint)[0];
        int max = maxDatagramSize(endpoint, address, options);
        DatagramChannel channel = DatagramChannel.open(TcpTransport.familyOf(address));
        try {
            channel.connect(new InetSocketAddress(address, endpoint.port()));
            InetSocketAddress local = (InetSocketAddress) channel.getLocalAddress();
            Endpoint remote = endpoint.withoutParameters();
            return wrap(channel, ADDRESSING.endpointOf(local), remote, options, max, "connected to " + remote);
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    private DatagramSocket wrap(
            DatagramChannel channel, Endpoint local, Endpoint remote, DatagramOptions options, int max, String side)
            throws IOException {
        // The kernel refuses a datagram larger than the send buffer; the defaults are larger than any UDP datagram.
        if (channel.getOption(StandardSocketOptions.SO_SNDBUF) < max + 1024) {
            channel.setOption(StandardSocketOptions.SO_SNDBUF, max + 1024);
        }
        return new ChannelDatagramSocket(
                channel,
                local,
                remote,
                options,
                max,
                ADDRESSING,
                () -> {},
                local.withoutParameters() + " (" + id() + ", " + side + ")");
    }

    private static int maxDatagramSize(Endpoint endpoint, InetAddress address, DatagramOptions options) {
        int max = options.get(DatagramOptions.MAX_DATAGRAM_SIZE);
        boolean v6 = address instanceof Inet6Address;
        int carried = v6 ? MAX_IPV6_PAYLOAD : MAX_IPV4_PAYLOAD;
        if (max > carried) {
            throw new IllegalArgumentException(
                    "maxDatagramSize " + max + " is over the most a UDP datagram carries over "
                            + (v6 ? "IPv6" : "IPv4") + ", " + carried + " bytes (" + endpoint.withoutParameters()
                            + "); send larger messages over a stream");
        }
        return max;
    }

    @Override
    public String toString() {
        return id();
    }

    /** UDP addresses are IP addresses and ports. */
    private static final class Addressing implements ChannelDatagramSocket.Addressing {
        @Override
        public SocketAddress addressOf(Endpoint endpoint) throws IOException {
            return new InetSocketAddress(TcpTransport.resolve(endpoint)[0], endpoint.port());
        }

        @Override
        public Endpoint endpointOf(SocketAddress address) {
            InetSocketAddress inet = (InetSocketAddress) address;
            String host = inet.getAddress().getHostAddress();
            int scope = host.indexOf('%');
            return Endpoint.udp(scope >= 0 ? host.substring(0, scope) : host, inet.getPort());
        }

        @Override
        public IOException sendFailure(Endpoint destination, IOException cause) {
            IOException named = cause instanceof PortUnreachableException
                    ? new PortUnreachableException("cannot send to " + destination
                            + ": the port is unreachable (the host answered an earlier datagram that nothing is "
                            + "bound there)")
                    : new IOException("cannot send to " + destination + ": " + cause.getMessage());
            named.initCause(cause);
            return named;
        }
    }
}
