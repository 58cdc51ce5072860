package dev.ipc.unix;

import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.internal.ChannelTraits;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

/** The only class that names junixsocket's types, loaded when the junixsocket transport is used. */
final class JunixsocketChannels {

    private JunixsocketChannels() {}

    /** Null if junixsocket works here; otherwise why not. Loads the native library. */
    static Throwable unavailabilityCause() {
        try {
            if (AFUNIXSocket.isSupported()) {
                return null;
            }
            return new UnsupportedOperationException("junixsocket has no native library for "
                    + System.getProperty("os.name") + "/" + System.getProperty("os.arch"));
        } catch (RuntimeException e) {
            return e;
        }
    }

    static FramedListener listen(Endpoint endpoint, ConnectionOptions options, String transportId) throws IOException {
        SocketFiles.checkLength(endpoint);
        return SocketFiles.listen(
                endpoint,
                options,
                new SocketFiles.Binder<ServerSocketChannel>() {
                    @Override
                    public ServerSocketChannel bind(Path path) throws IOException {
                        int backlog = options.get(ConnectionOptions.BACKLOG);
                        AFUNIXServerSocketChannel channel = AFUNIXServerSocketChannel.open();
                        try {
                            // Off, or a bind would take over a path a live listener is using.
                            channel.socket().setReuseAddress(false);
                            channel.setDeleteOnClose(false);
                            channel.bind(path == null ? addressOf(endpoint) : AFUNIXSocketAddress.of(path), backlog);
                            return channel;
                        } catch (IOException | RuntimeException e) {
                            Closer.closeQuietly(channel, e);
                            throw e;
                        }
                    }

                    @Override
                    public boolean needsBoundPath() {
                        return true;
                    }
                },
                AFUNIXSocketChannel::open,
                accepted -> wrap(accepted, endpoint, options, transportId, "server"));
    }

    static FramedConnection connect(Endpoint endpoint, ConnectionOptions options, String transportId)
            throws IOException {
        SocketFiles.checkLength(endpoint); // before junixsocket builds an address, which fails less clearly
        return SocketFiles.connect(
                endpoint,
                options,
                AFUNIXSocketChannel::open,
                addressOf(endpoint),
                channel -> wrap(channel, endpoint, options, transportId, "client"));
    }

    /** A listening socket this process inherited as descriptor {@code fd} (from systemd). */
    static ServerSocketChannel inheritedListener(int fd) throws IOException {
        AFUNIXServerSocketChannel channel = FileDescriptorCast.unsafeUsing(fd).as(AFUNIXServerSocketChannel.class);
        channel.setDeleteOnClose(false); // the file is systemd's
        return channel;
    }

    private static AFUNIXSocketAddress addressOf(Endpoint endpoint) throws IOException {
        if (endpoint.isAbstract()) {
            return AFUNIXSocketAddress.inAbstractNamespace(
                    endpoint.abstractName().orElseThrow());
        }
        return AFUNIXSocketAddress.of(endpoint.path().orElseThrow());
    }

    /** Wraps a connected junixsocket channel; also for sockets inherited from systemd. */
    static FramedConnection wrap(
            SocketChannel channel, Endpoint endpoint, ConnectionOptions options, String transportId, String side)
            throws IOException {
        AFUNIXSocketChannel unix = (AFUNIXSocketChannel) channel;
        ChannelConnection connection = new ChannelConnection(
                channel,
                endpoint,
                peerOf(channel),
                options,
                SocketFiles.label(endpoint, transportId, side),
                ChannelTraits.junixsocket(new ChannelTraits.DescriptorPassing() {
                    @Override
                    public void attach(FileDescriptor[] descriptors) throws IOException {
                        unix.setOutboundFileDescriptors(descriptors);
                    }

                    @Override
                    public FileDescriptor[] takeReceived() throws IOException {
                        return unix.getReceivedFileDescriptors();
                    }

                    @Override
                    public void room(int count) {
                        // A cmsghdr (16 bytes) and the ints, rounded up to 8; none: no ancillary buffer at all.
                        unix.setAncillaryReceiveBufferSize(count == 0 ? 0 : 16 + ((4 * count + 7) & ~7));
                    }
                }));
        if (side.equals("server")) {
            connection.answerSharedMemoryRequests(options);
        }
        return connection;
    }

    private static PeerCredentials peerOf(SocketChannel channel) {
        try {
            AFUNIXSocketCredentials credentials = ((AFUNIXSocketChannel) channel).getPeerCredentials();
            return credentials == null
                    ? PeerCredentials.unknown()
                    : PeerCredentials.ofIds(credentials.getUid(), credentials.getGid(), credentials.getPid());
        } catch (IOException | UnsupportedOperationException e) {
            return PeerCredentials.unknown();
        }
    }
}
