package dev.ipc.unix;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.internal.ChannelListener;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedListener;
import dev.ipc.spi.ListenerSource;
import java.io.IOException;
import java.net.BindException;
import java.net.SocketException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Listeners on sockets this process inherited: systemd socket activation ({@code systemd:} for the first socket,
 * {@code systemd:NAME} by {@code FileDescriptorName=}) and, without systemd's variables, a listening socket on standard
 * input ({@link System#inheritedChannel()}, as inetd passes it).
 *
 * <p>The sockets follow systemd's protocol: {@code LISTEN_PID} must be this process, descriptors start at 3,
 * {@code LISTEN_FDS} says how many, {@code LISTEN_FDNAMES} names them. The socket file belongs to systemd: closing the
 * listener closes this process's descriptor and never removes the file. Accepted connections go through the access
 * policy as on any Unix listener (same user by default).
 *
 * @implNote A descriptor number is turned into a channel with junixsocket, which must be present
 *     ({@link #isAvailable()} says so); {@code System.inheritedChannel()} needs nothing but the JDK.
 */
public final class SystemdListeners implements ListenerSource {

    private static final int FIRST_DESCRIPTOR = 3;
    private static final Set<Integer> IN_USE = ConcurrentHashMap.newKeySet();

    private final Map<String, String> environment;

    /** Public for {@link java.util.ServiceLoader}: reads this process's environment. */
    public SystemdListeners() {
        this(System.getenv());
    }

    SystemdListeners(Map<String, String> environment) {
        this.environment = environment;
    }

    @Override
    public String scheme() {
        return Endpoint.SYSTEMD;
    }

    /**
     * Available unless systemd passed descriptors (LISTEN_FDS) and junixsocket, which turns a descriptor number into a
     * channel, is missing; a socket on standard input needs nothing but the JDK.
     */
    @Override
    public boolean isAvailable() {
        return unavailabilityCause().isEmpty();
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        if (environment.get("LISTEN_FDS") == null) {
            return Optional.empty();
        }
        Throwable cause;
        try {
            cause = JunixsocketChannels.unavailabilityCause();
        } catch (LinkageError e) {
            cause = e;
        }
        return Optional.ofNullable(cause)
                .map(missing -> new IllegalStateException(
                        "systemd passed this process sockets by number (LISTEN_FDS), and turning a descriptor number "
                                + "into a socket needs junixsocket (add "
                                + "com.kohlschutter.junixsocket:junixsocket-core): "
                                + missing,
                        missing));
    }

    @Override
    public String whyNoConnect(Endpoint endpoint) {
        return "cannot connect to " + endpoint + ": systemd: endpoints name sockets that systemd passed to a listening "
                + "process; connect to the socket's own path, such as unix:/run/app/app.sock";
    }

    @Override
    public FramedListener listen(Endpoint endpoint, ConnectionOptions options) throws IOException {
        AccessPolicy policy = options.find(ConnectionOptions.ACCESS).orElse(AccessPolicy.sameUser());
        String count = environment.get("LISTEN_FDS");
        if (count == null) {
            return fromStandardInput(endpoint, options, policy);
        }
        String pid = environment.get("LISTEN_PID");
        if (!String.valueOf(ProcessHandle.current().pid()).equals(pid)) {
            throw new SocketException("cannot listen on " + endpoint + ": LISTEN_PID is " + pid + ", not this process ("
                    + ProcessHandle.current().pid() + "): the sockets were passed to another process");
        }
        int descriptors;
        try {
            descriptors = Integer.parseInt(count);
        } catch (NumberFormatException e) {
            throw new SocketException("cannot listen on " + endpoint + ": LISTEN_FDS is not a number: '" + count + "'");
        }
        List<String> names =
                Arrays.asList(environment.getOrDefault("LISTEN_FDNAMES", "").split(":", -1));
        int index = endpoint.systemdName().map(names::indexOf).orElse(0);
        if (index < 0) {
            throw new SocketException("cannot listen on " + endpoint + ": systemd passed no socket named '"
                    + endpoint.systemdName().get() + "' (LISTEN_FDNAMES: " + String.join(", ", names) + ")");
        }
        if (index >= descriptors) {
            throw new SocketException("cannot listen on " + endpoint + ": systemd passed " + descriptors
                    + " sockets (LISTEN_FDS), none at position " + (index + 1));
        }
        int descriptor = FIRST_DESCRIPTOR + index;
        if (!IN_USE.add(descriptor)) {
            throw new BindException("cannot listen on " + endpoint + ": descriptor " + descriptor
                    + " already has a listener in this process");
        }
        try {
            ServerSocketChannel channel = JunixsocketChannels.inheritedListener(descriptor);
            return new ChannelListener(
                    channel,
                    endpoint,
                    options,
                    accepted -> JunixsocketChannels.wrap(accepted, endpoint, options, "systemd/inherited", "server"),
                    policy,
                    () -> IN_USE.remove(descriptor));
        } catch (IOException | RuntimeException | LinkageError e) {
            IN_USE.remove(descriptor);
            if (e instanceof LinkageError) {
                throw new IllegalStateException(
                        "cannot listen on " + endpoint + ": turning descriptor " + descriptor
                                + " into a socket needs junixsocket, which is not available: " + e,
                        e);
            }
            throw e;
        }
    }

    private FramedListener fromStandardInput(Endpoint endpoint, ConnectionOptions options, AccessPolicy policy)
            throws IOException {
        Channel inherited = System.inheritedChannel();
        if (!(inherited instanceof ServerSocketChannel)
                || endpoint.systemdName().isPresent()) {
            throw new SocketException("cannot listen on " + endpoint + ": this process was given no sockets "
                    + "(LISTEN_FDS is not set"
                    + (endpoint.systemdName().isPresent() ? ")" : ", and standard input is not a listening socket)")
                    + "; start it from a systemd .socket unit or with systemd-socket-activate");
        }
        ServerSocketChannel channel = (ServerSocketChannel) inherited;
        if (!(channel.getLocalAddress() instanceof UnixDomainSocketAddress)) {
            Closer.closeQuietly(channel, null);
            throw new SocketException("cannot listen on " + endpoint + ": the inherited socket is not a Unix socket ("
                    + channel.getLocalAddress() + ")");
        }
        return new ChannelListener(
                channel,
                endpoint,
                options,
                accepted -> JdkUnixTransport.wrap(accepted, endpoint, options, "server"),
                policy,
                () -> {});
    }

    @Override
    public String toString() {
        return "systemd listeners";
    }
}
