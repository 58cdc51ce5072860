package dev.ipc.unix;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.ConnectionOptions.SharedMemory;
import dev.ipc.ConnectionOptions.UnixBackend;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.Accounts;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.internal.ChannelTraits;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.spi.Suitability;
import dev.ipc.spi.Transport;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Optional;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * Unix domain sockets through the JDK's own channels ({@link UnixDomainSocketAddress}, JDK 16+): the default backend
 * for {@code unix:} socket-file endpoints, with no native code of ours.
 *
 * <p>Peer credentials carry the user and group names ({@code SO_PEERCRED} through
 * {@link ExtendedSocketOptions#SO_PEERCRED}); the JDK gives no pid. Abstract-namespace endpoints are left to
 * {@link JunixsocketUnixTransport}.
 *
 * @implNote The JDK leaves a socket file behind when its channel closes; the listener removes it, if the file at the
 *     path is still the one it bound.
 */
public final class JdkUnixTransport implements Transport {

    private static final ChannelTraits NO_DESCRIPTORS = ChannelTraits.plain(
            "the JDK's Unix channels cannot send SCM_RIGHTS; use the junixsocket backend (backend=junixsocket)");

    /** Public for {@link java.util.ServiceLoader}. */
    public JdkUnixTransport() {}

    @Override
    public String scheme() {
        return Endpoint.UNIX;
    }

    @Override
    public String name() {
        return "jdk";
    }

    @Override
    public boolean isAvailable() {
        return Probe.CAUSE == null;
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.ofNullable(Probe.CAUSE);
    }

    @Override
    public Suitability suitability(Endpoint endpoint, ConnectionOptions options) {
        if (options.get(ConnectionOptions.BACKEND) == UnixBackend.JUNIXSOCKET) {
            return Suitability.unsuitable("backend=junixsocket was asked for");
        }
        if (endpoint.isAbstract()) {
            return Suitability.unsuitable("the JDK's channels have no abstract namespace (unix:@name)");
        }
        if (options.find(ConnectionOptions.ACCESS)
                .map(AccessPolicy::needsNumericIds)
                .orElse(false)) {
            return Suitability.unsuitable("the JDK gives peer names only, and the access policy needs numeric ids");
        }
        SharedMemory shared = options.get(ConnectionOptions.SHARED_MEMORY);
        if (shared == SharedMemory.REQUIRE) {
            return Suitability.unsuitable("sharedMemory=require passes the memory as a descriptor, which the JDK's"
                    + " channels cannot send");
        }
        if (options.get(ConnectionOptions.BACKEND) == UnixBackend.JDK) {
            return Suitability.suitable(Suitability.FORCED, "backend=jdk was asked for");
        }
        if (shared == SharedMemory.ON) {
            return Suitability.suitable(
                    Suitability.FALLBACK, "the JDK's channels can't pass the memory's descriptor: the socket only");
        }
        return Suitability.suitable(Suitability.PREFERRED, "the JDK's Unix channels are the default: no native code");
    }

    @Override
    public FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException {
        return SocketFiles.listen(
                endpoint,
                options,
                new SocketFiles.Binder<ServerSocketChannel>() {
                    @Override
                    public ServerSocketChannel bind(Path path) throws IOException {
                        ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                        try {
                            return channel.bind(
                                    UnixDomainSocketAddress.of(path), options.get(ConnectionOptions.BACKLOG));
                        } catch (IOException | RuntimeException e) {
                            Closer.closeQuietly(channel, e);
                            throw e;
                        }
                    }

                    @Override
                    public boolean needsBoundPath() {
                        return false;
                    }
                },
                JdkUnixTransport::openChannel,
                accepted -> wrap(accepted, endpoint, options, "server"));
    }

    private static SocketChannel openChannel() throws IOException {
        return SocketChannel.open(StandardProtocolFamily.UNIX);
    }

    @Override
    public FramedConnection connect(Endpoint endpoint, ConnectionOptions options) throws IOException {
        return SocketFiles.connect(
                endpoint,
                options,
                JdkUnixTransport::openChannel,
                UnixDomainSocketAddress.of(endpoint.path().orElseThrow()),
                channel -> wrap(channel, endpoint, options, "client"));
    }

    /** Wraps a connected JDK Unix channel; also for sockets inherited from systemd. */
    static FramedConnection wrap(SocketChannel channel, Endpoint endpoint, ConnectionOptions options, String side)
            throws IOException {
        ChannelConnection connection = new ChannelConnection(
                channel,
                endpoint,
                peerOf(channel),
                options,
                SocketFiles.label(endpoint, "unix/jdk", side),
                NO_DESCRIPTORS);
        if (side.equals("server")) {
            connection.answerSharedMemoryRequests(options); // to decline, saying why
        }
        return connection;
    }

    private static PeerCredentials peerOf(SocketChannel channel) {
        try {
            UnixDomainPrincipal principal = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
            String user = principal.user().getName();
            String group = principal.group().getName();
            // The JDK names ids it can't look up by their number (as when the process is out of
            // descriptors and can't read /etc/passwd): then the number is the id, and no name is known.
            // The kernel gave the JDK numbers; it gives names. The numbers come back from the account files, so that a
            // handler or policy can compare uids on this backend too (users known only through NSS stay unnumbered).
            return PeerCredentials.of(
                    numeric(user) >= 0 ? numeric(user) : Accounts.uidOf(user).orElse(-1),
                    numeric(group) >= 0 ? numeric(group) : Accounts.gidOf(group).orElse(-1),
                    -1,
                    numeric(user) < 0 ? user : null,
                    numeric(group) < 0 ? group : null);
        } catch (IOException | UnsupportedOperationException e) {
            return PeerCredentials.unknown();
        }
    }

    private static long numeric(String name) {
        if (name.isEmpty() || name.length() > 10 || !name.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        return Long.parseLong(name);
    }

    @Override
    public String toString() {
        return id();
    }

    /** Finds out once whether this runtime can open Unix domain channels. */
    private static final class Probe {
        static final Throwable CAUSE = probe();

        private static Throwable probe() {
            try {
                SocketChannel.open(StandardProtocolFamily.UNIX).close();
                return null;
            } catch (IOException | UnsupportedOperationException e) {
                return e;
            }
        }
    }
}
