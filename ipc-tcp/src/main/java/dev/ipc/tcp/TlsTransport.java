package dev.ipc.tcp;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.TlsOptions;
import dev.ipc.internal.ChannelListener;
import dev.ipc.internal.Closer;
import dev.ipc.internal.Deadline;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.HandshakingListener;
import dev.ipc.internal.SecretHandshake;
import dev.ipc.spi.Suitability;
import dev.ipc.spi.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * TCP with TLS, through the JDK's {@link SSLSocket}, for {@code tls://host:port} endpoints.
 *
 * <p>TLS 1.3 and 1.2 only. A client checks that the server's certificate names the endpoint's host (or
 * {@link TlsOptions#SERVER_NAME}); a server asks for client certificates as {@link TlsOptions#CLIENT_AUTH} says. A
 * server's handshakes run off its accept loop, each within {@link ConnectionOptions#HANDSHAKE_TIMEOUT}; a client's runs
 * within what is left of the connect timeout. The peer's certificate subject is its
 * {@link dev.ipc.PeerCredentials#principal()}, which the access policy reads after the handshake. A shared secret
 * ({@link ConnectionOptions#SECRET}) is checked after TLS, inside the encrypted stream.
 */
public final class TlsTransport implements Transport {

    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    /** Public for {@link java.util.ServiceLoader}. */
    public TlsTransport() {}

    @Override
    public String scheme() {
        return Endpoint.TLS;
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
        return Suitability.suitable(Suitability.PREFERRED, "the JDK's SSLSocket over TCP channels");
    }

    /**
     * A listener beyond loopback must say who may connect: client certificates ({@code clientAuth=required}), a shared
     * secret, or an access rule ({@code access=anyone} to serve everyone who can reach it, knowingly). TLS alone
     * encrypts, but lets in anyone, where a socket file's mode let in only its users.
     */
    private static void refuseOpenToAnyone(Endpoint endpoint, ConnectionOptions options, boolean secret)
            throws IOException {
        InetAddress address = TcpTransport.resolve(endpoint)[0];
        boolean guarded = secret
                || options.get(TlsOptions.CLIENT_AUTH) == TlsOptions.ClientAuth.REQUIRED
                || options.find(ConnectionOptions.ACCESS).isPresent();
        if (!address.isLoopbackAddress() && !guarded) {
            String where = address.isAnyLocalAddress() ? "every address of this host" : address.getHostAddress();
            throw new IllegalArgumentException("refusing to listen on " + endpoint.withoutParameters() + " (" + where
                    + ") open to anyone who can reach it: TLS encrypts, but nothing here says who may connect. Set "
                    + "clientAuth=required (with trustCertificates or trustStore), a shared secret (secretFile or "
                    + "secretEnv), or an access rule; access=anyone serves everyone, knowingly");
        }
    }

    @Override
    public FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException {
        if (!TlsContexts.hasKey(options)) {
            throw new IllegalArgumentException(
                    "a tls:// listener needs its certificate and key: set keyStore (PKCS#12, "
                            + "with keyStorePasswordFile or keyStorePasswordEnv) or certificate and privateKey "
                            + "(PEM) on "
                            + endpoint.withoutParameters());
        }
        SSLContext context = TlsContexts.of(options);
        byte[] secret = SecretHandshake.secretOf(options);
        refuseOpenToAnyone(endpoint, options, secret != null);
        ServerSocketChannel channel = TcpTransport.bind(endpoint, options, true);
        try {
            Endpoint bound = TcpTransport.boundEndpoint(channel, endpoint);
            ChannelListener raw = new ChannelListener(
                    channel,
                    bound,
                    options,
                    accepted -> serverSide(context, accepted, bound, options),
                    AccessPolicy.anyone(),
                    () -> {});
            return new HandshakingListener(
                    raw, options, options.find(ConnectionOptions.ACCESS).orElse(AccessPolicy.anyone()), secret);
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    private TlsConnection serverSide(
            SSLContext context, SocketChannel accepted, Endpoint bound, ConnectionOptions options) throws IOException {
        accepted.setOption(StandardSocketOptions.TCP_NODELAY, true);
        InetSocketAddress remote = (InetSocketAddress) accepted.getRemoteAddress();
        // autoClose off: after a failed handshake the connection closes the channel itself, gently (see
        // TlsConnection.handshake), instead of the JDK's abrupt close.
        SSLSocket socket = (SSLSocket) context.getSocketFactory()
                .createSocket(accepted.socket(), remote.getAddress().getHostAddress(), remote.getPort(), false);
        socket.setUseClientMode(false);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setProtocols(PROTOCOLS);
        switch (options.get(TlsOptions.CLIENT_AUTH)) {
            case REQUIRED:
                parameters.setNeedClientAuth(true);
                break;
            case WANT:
                parameters.setWantClientAuth(true);
                break;
            default:
                break;
        }
        socket.setSSLParameters(parameters);
        String peer = remote.getAddress().getHostAddress() + ":" + remote.getPort();
        return new TlsConnection(
                accepted,
                socket,
                bound,
                peer,
                options,
                bound.withoutParameters() + " (" + id() + ", server, peer " + peer + ")");
    }

    @Override
    public FramedConnection connect(Endpoint endpoint, ConnectionOptions options) throws IOException {
        long started = System.nanoTime();
        SSLContext context = TlsContexts.of(options);
        SocketChannel channel = TcpTransport.open(
                endpoint,
                options,
                started + options.get(ConnectionOptions.CONNECT_TIMEOUT).toNanos());
        TlsConnection connection = null;
        try {
            channel.configureBlocking(true);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            String serverName = options.find(TlsOptions.SERVER_NAME).orElse(endpoint.host());
            SSLSocket socket = (SSLSocket)
                    context.getSocketFactory().createSocket(channel.socket(), serverName, endpoint.port(), true);
            socket.setUseClientMode(true);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setProtocols(PROTOCOLS);
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            if (isHostName(serverName)) {
                parameters.setServerNames(List.of(new SNIHostName(serverName)));
            }
            socket.setSSLParameters(parameters);
            String peer = endpoint.withoutParameters().toString();
            connection = new TlsConnection(
                    channel,
                    socket,
                    TcpTransport.localEndpointOf(channel),
                    peer,
                    options,
                    TcpTransport.localEndpointOf(channel) + " (" + id() + ", client to " + peer + ")");
            Duration limit = handshakeLimit(options, started);
            Deadline.within(
                    limit,
                    channel,
                    "the TLS handshake with " + peer + " did not finish within "
                            + (limit.equals(options.get(ConnectionOptions.HANDSHAKE_TIMEOUT))
                                    ? "handshakeTimeout "
                                    : "connectTimeout ")
                            + limit,
                    connection::handshake);
            return connection;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(connection != null ? connection : channel, e);
            throw e;
        }
    }

    /** The handshake's time: the handshake timeout, or what is left of the connect timeout if that is less. */
    private static Duration handshakeLimit(ConnectionOptions options, long started) {
        Duration handshake = options.get(ConnectionOptions.HANDSHAKE_TIMEOUT);
        if (options.get(ConnectionOptions.CONNECT_TIMEOUT).isZero()) {
            return handshake;
        }
        Duration left = options.get(ConnectionOptions.CONNECT_TIMEOUT).minusNanos(System.nanoTime() - started);
        if (left.compareTo(Duration.ofMillis(1)) < 0) {
            left = Duration.ofMillis(1);
        }
        return handshake.isZero() || left.compareTo(handshake) < 0 ? left : handshake;
    }

    private static boolean isHostName(String host) {
        return host.indexOf(':') < 0 && !host.matches("[0-9.]+") && host.indexOf('.') != host.length() - 1;
    }

    /** Explains a handshake failure in plain words, keeping the JDK's message. */
    static SSLHandshakeException explain(SSLException e, String where, boolean client, boolean ownCertificate) {
        String message = String.valueOf(e.getMessage());
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String all = message + " " + root;
        String hint;
        if (all.contains("Unsupported or unrecognized SSL message")) {
            hint = client
                    ? "the server does not speak TLS (is it a tcp:// endpoint?)"
                    : "the client does not speak TLS (a plaintext client on a tls:// port?)";
        } else if (all.contains("CertificateExpiredException")
                || all.contains("NotAfter")
                || all.contains("CertificateNotYetValidException")) {
            hint = (client ? "the server's" : "the client's") + " certificate has expired or is not yet valid";
        } else if (all.contains("No subject alternative") || all.contains("No name matching")) {
            hint = "the server's certificate does not name the host connected to (connect by a name it lists, or "
                    + "set serverName)";
        } else if (all.contains("PKIX path")
                || all.contains("unable to find valid certification path")
                || all.contains("Path does not chain")
                || all.contains("signature check failed")) {
            hint = (client
                            ? "the server's certificate is not signed by an authority this client trusts (check "
                            : "the client's certificate is not signed by an authority this server trusts (check ")
                    + "trustCertificates or trustStore)";
        } else if (all.contains("Empty client certificate chain")
                || all.contains("certificate_required")
                || client && !ownCertificate && all.contains("bad_certificate")) {
            hint = client && ownCertificate
                    ? "the server requires a client certificate from an authority it "
                            + "trusts, and did not get this client's certificate (a client offers its "
                            + "certificate only to a "
                            + "server that names its authority)"
                    : client
                            ? "the server requires a client certificate and this client has none (set keyStore, or "
                                    + "certificate and privateKey)"
                            : "the server requires a client certificate and the client gave none (a client "
                                    + "offers only a "
                                    + "certificate signed by an authority this server trusts)";
        } else if (all.contains("certificate_unknown")
                || all.contains("bad_certificate")
                || all.contains("certificate_expired")
                || all.contains("unsupported_certificate")
                || all.contains("certificate_revoked")) {
            hint = client
                    ? "the server refused this client's certificate (has it expired, and is it signed by an "
                            + "authority the server trusts?)"
                    : "the client refused the server's certificate (does it trust this server's authority, and "
                            + "does the certificate name the host it connected to?)";
        } else if (all.contains("Remote host terminated")
                || all.contains("closed")
                || all.contains("reset")
                || all.contains("EOF")
                || all.contains("readHandshakeRecord")) {
            hint = client
                    ? "the server closed the connection during the handshake"
                    : "the client dropped the handshake: it may have refused the server's certificate (does it trust "
                            + "this server's authority, and does the certificate name the host it connected to?)";
        } else {
            hint = "the handshake failed";
        }
        SSLHandshakeException explained = new SSLHandshakeException("TLS handshake " + where + " failed: " + hint
                + " (" + message
                + (root != e && !message.contains(String.valueOf(root.getMessage())) ? "; " + root : "")
                + ")");
        explained.initCause(e);
        return explained;
    }

    @Override
    public String toString() {
        return id();
    }
}
