package dev.ipc.unix;

import dev.ipc.ConnectionOptions;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.UnexpectedServerException;
import dev.ipc.internal.ChannelDatagramSocket;
import dev.ipc.internal.Closer;
import dev.ipc.internal.ServerIdentity;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** Unix datagram sockets through junixsocket; names junixsocket's types, so it loads only when they are used. */
final class JunixsocketDatagrams {

    /** What Linux keeps of a Unix datagram's send buffer for itself: a datagram may be the buffer less this. */
    private static final int KERNEL_OVERHEAD = 32;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Addressing ADDRESSING = new Addressing();

    private JunixsocketDatagrams() {}

    static DatagramSocket bind(Endpoint endpoint, DatagramOptions options, String transportId) throws IOException {
        SocketFiles.checkLength(endpoint);
        int max = options.get(DatagramOptions.MAX_DATAGRAM_SIZE);
        if (endpoint.isAbstract()) {
            SocketFiles.refuseTakenAbstractName(endpoint);
            AFUNIXDatagramChannel channel;
            try {
                channel = open(ADDRESSING.addressOf(endpoint));
            } catch (IOException e) {
                throw SocketFiles.bindFailure(endpoint, e);
            }
            return wrap(channel, endpoint, null, options, max, () -> {}, transportId, "bound");
        }
        SocketFiles.Bound<AFUNIXDatagramChannel> bound = SocketFiles.bindFile(
                endpoint,
                options.get(ConnectionOptions.MODE),
                options.find(ConnectionOptions.GROUP).orElse(null),
                true,
                new SocketFiles.Binder<>() {
                    @Override
                    public AFUNIXDatagramChannel bind(Path path) throws IOException {
                        return open(AFUNIXSocketAddress.of(path));
                    }

                    @Override
                    public boolean needsBoundPath() {
                        return false;
                    }
                },
                JunixsocketDatagrams::isLive);
        return wrap(bound.channel, endpoint, null, options, max, bound.release, transportId, "bound");
    }

    static DatagramSocket connect(Endpoint endpoint, DatagramOptions options, String transportId) throws IOException {
        SocketFiles.checkLength(endpoint);
        int max = options.get(DatagramOptions.MAX_DATAGRAM_SIZE);
        // An address of its own, so that replies can come back; connected, only the peer may send to it.
        Endpoint local = Endpoint.unixgramAbstract("ipc-" + HexFormat.of().formatHex(randomBytes()));
        AFUNIXDatagramChannel channel = open(ADDRESSING.addressOf(local));
        try {
            Object before = boundBy(endpoint, options);
            channel.connect(ADDRESSING.addressOf(endpoint));
            if (before != null && !before.equals(boundBy(endpoint, options))) {
                // The file changed between the look and the connect: whoever swapped it is not to be trusted.
                throw new UnexpectedServerException("the socket file " + endpoint.withoutParameters() + " was replaced "
                        + "while this client connected to it; another user may be taking the path");
            }
        } catch (UnexpectedServerException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        } catch (IOException e) {
            Closer.closeQuietly(channel, e);
            throw SocketFiles.connectFailure(endpoint, e);
        } catch (RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
        Endpoint remote = endpoint.withoutParameters();
        return wrap(channel, local, remote, options, max, () -> {}, transportId, "connected to " + remote);
    }

    /**
     * Checks who bound the socket file of {@code endpoint} against expectServer, before anything is sent: its owner,
     * since the kernel tells nothing of who holds a datagram socket; returns the file's identity (its inode), or null
     * for an abstract name, which has no owner to check, or a file that is not there (the connect says so).
     */
    private static Object boundBy(Endpoint endpoint, DatagramOptions options) throws IOException {
        if (endpoint.path().isEmpty()) {
            return null;
        }
        Path path = endpoint.path().get();
        Map<String, Object> file;
        try {
            file = Files.readAttributes(path, "unix:uid,gid,ino", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
        ServerIdentity.check(
                endpoint,
                PeerCredentials.ofIds(
                        ((Number) file.get("uid")).longValue(), ((Number) file.get("gid")).longValue(), 0),
                options.get(ConnectionOptions.EXPECT_SERVER));
        return List.of(file.get("ino"), file.get("uid"));
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    private static AFUNIXDatagramChannel open(AFUNIXSocketAddress address) throws IOException {
        AFUNIXDatagramChannel channel = AFUNIXDatagramChannel.open();
        try {
            channel.setDeleteOnClose(false); // the socket file's release removes it, if it is still ours
            channel.bind(address);
            return channel;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    /** A datagram socket file is live if a connect to it succeeds: Linux refuses one where nobody is bound. */
    private static boolean isLive(Path path) throws IOException {
        try (AFUNIXDatagramChannel probe = AFUNIXDatagramChannel.open()) {
            probe.connect(AFUNIXSocketAddress.of(path));
            return true;
        } catch (IOException e) {
            if (SocketFiles.isRefused(e)) {
                return false;
            }
            throw SocketFiles.cannotTell(path, e);
        }
    }

    private static DatagramSocket wrap(
            AFUNIXDatagramChannel channel,
            Endpoint local,
            Endpoint remote,
            DatagramOptions options,
            int max,
            Closer.Action release,
            String transportId,
            String side)
            throws IOException {
        try {
            // Linux refuses a datagram larger than the sender's send buffer less its overhead: make room for the limit.
            if (channel.getOption(StandardSocketOptions.SO_SNDBUF) - KERNEL_OVERHEAD < max) {
                channel.setOption(StandardSocketOptions.SO_SNDBUF, max + KERNEL_OVERHEAD);
                int granted = channel.getOption(StandardSocketOptions.SO_SNDBUF);
                if (granted - KERNEL_OVERHEAD < max) {
                    throw new IllegalArgumentException("maxDatagramSize " + max + " is over what this system lets a "
                            + "Unix datagram socket send, " + (granted - KERNEL_OVERHEAD) + " bytes (the send buffer"
                            + " less " + KERNEL_OVERHEAD + "; raise net.core.wmem_max to allow more)");
                }
            }
            return new ChannelDatagramSocket(
                    channel,
                    local,
                    remote,
                    options,
                    max,
                    ADDRESSING,
                    release,
                    SocketFiles.label(local, transportId, side));
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            Closer.closeQuietly(release::run, e);
            throw e;
        }
    }

    /** Unix datagram addresses are socket files or abstract names. */
    private static final class Addressing implements ChannelDatagramSocket.Addressing {
        @Override
        public AFUNIXSocketAddress addressOf(Endpoint endpoint) throws IOException {
            if (endpoint.isAbstract()) {
                return AFUNIXSocketAddress.inAbstractNamespace(
                        endpoint.abstractName().orElseThrow());
            }
            return AFUNIXSocketAddress.of(endpoint.path().orElseThrow());
        }

        @Override
        public Endpoint endpointOf(SocketAddress address) {
            AFUNIXSocketAddress unix = (AFUNIXSocketAddress) address;
            byte[] bytes = unix.getPathAsBytes();
            boolean isAbstract = bytes.length > 0 && bytes[0] == 0;
            int start = isAbstract ? 1 : 0;
            // junixsocket reports the whole address buffer: what follows the name is NUL padding.
            int end = bytes.length;
            while (end > start && bytes[end - 1] == 0) {
                end--;
            }
            if (end == start) {
                return null;
            }
            String name = new String(Arrays.copyOfRange(bytes, start, end), StandardCharsets.UTF_8);
            return isAbstract ? Endpoint.unixgramAbstract(name) : Endpoint.unixgram(Path.of(name));
        }

        @Override
        public IOException sendFailure(Endpoint destination, IOException cause) {
            String message = String.valueOf(cause.getMessage());
            IOException named;
            if (SocketFiles.isRefused(cause) || message.contains("No such file")) {
                named = new ConnectException("cannot send to " + destination + ": nobody is bound there"
                        + (destination.isAbstract() ? "" : " (no socket file, or one a crashed process left)"));
            } else if (message.contains("Permission denied")) {
                named = new AccessDeniedException(
                        destination.toString(),
                        null,
                        "cannot send to " + destination
                                + ": permission denied for this user (check the socket file's mode and group)");
            } else if (message.contains("Operation not permitted")) {
                named = new IOException("cannot send to " + destination
                        + ": that socket is connected to another one and takes datagrams from it only");
            } else {
                named = new IOException("cannot send to " + destination + ": " + message);
            }
            named.initCause(cause);
            return named;
        }
    }
}
