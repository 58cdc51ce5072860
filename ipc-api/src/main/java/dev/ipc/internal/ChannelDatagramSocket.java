package dev.ipc.internal;

import dev.ipc.ConnectionOptions;
import dev.ipc.Datagram;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import java.io.IOException;
import java.net.PortUnreachableException;
import java.net.ProtocolException;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link DatagramSocket} over a {@link DatagramChannel}: the one implementation that UDP (the JDK's channel) and Unix
 * datagrams (junixsocket's) share. What differs between them is how endpoints map to socket addresses and how a failed
 * send is explained ({@link Addressing}).
 *
 * <p>Without timeouts the channel stays in blocking mode, so a datagram costs one system call each way; with a read or
 * send timeout it is non-blocking and waits in a selector only when the first try finds nothing. The receive buffer is
 * one byte longer than the size limit, so a datagram over the limit shows as one that filled it, instead of being cut
 * short unseen.
 */
public final class ChannelDatagramSocket implements DatagramSocket {

    private static final Logger LOG = LoggerFactory.getLogger(ChannelDatagramSocket.class);

    /** What a transport's addresses and errors look like. */
    public interface Addressing {
        /** The socket address an endpoint of this scheme names. */
        SocketAddress addressOf(Endpoint endpoint) throws IOException;

        /** The endpoint of a sender's address, or null if it has none (an unbound Unix socket). */
        Endpoint endpointOf(SocketAddress address);

        /** An exception that names the destination and says what a failed send means. */
        IOException sendFailure(Endpoint destination, IOException cause);
    }

    private final DatagramChannel channel;
    private final String scheme;
    private final Endpoint localEndpoint;
    private final Endpoint remoteEndpoint;
    private final int maxDatagramSize;
    private final long readTimeoutNanos;
    private final long sendTimeoutNanos;
    private final boolean blocking;
    private final Addressing addressing;
    private final Closer.Action release;
    private final String label;
    private final ReadinessWaiter readWaiter;
    private final ReadinessWaiter writeWaiter;
    private final ReentrantLock receiveLock = new ReentrantLock();
    private final ReentrantLock sendLock = new ReentrantLock();
    private final ByteBuffer receiveBuffer; // guarded by receiveLock
    private ByteBuffer sendBuffer; // guarded by sendLock; made at the first send
    private final AtomicBoolean closed = new AtomicBoolean();
    // The last peer each way: a request and its reply name the same address again and again, and making a socket
    // address or an endpoint costs microseconds (junixsocket's about two).
    private volatile Peer lastDestination;
    private Peer lastSender; // guarded by receiveLock

    /** An endpoint and the socket address it names. */
    private static final class Peer {
        final Endpoint endpoint;
        final SocketAddress address;

        Peer(Endpoint endpoint, SocketAddress address) {
            this.endpoint = endpoint;
            this.address = address;
        }
    }

    /**
     * Wraps a bound (and, for a connected socket, connected) channel, which this socket then owns.
     *
     * @param remoteEndpoint the peer of a connected socket, without its query; null for a bound one
     * @param maxDatagramSize the size limit, already checked against what the system carries
     * @param release what to release at close after the channel (a socket file and its lock)
     * @param label how the socket is named in messages and logs
     */
    public ChannelDatagramSocket(
            DatagramChannel channel,
            Endpoint localEndpoint,
            Endpoint remoteEndpoint,
            DatagramOptions options,
            int maxDatagramSize,
            Addressing addressing,
            Closer.Action release,
            String label)
            throws IOException {
        this.channel = Objects.requireNonNull(channel, "channel");
        this.localEndpoint = Objects.requireNonNull(localEndpoint, "localEndpoint");
        this.scheme = localEndpoint.scheme();
        this.remoteEndpoint = remoteEndpoint;
        this.maxDatagramSize = maxDatagramSize;
        this.addressing = Objects.requireNonNull(addressing, "addressing");
        this.release = Objects.requireNonNull(release, "release");
        this.label = Objects.requireNonNull(label, "label");
        this.readTimeoutNanos = options.get(ConnectionOptions.READ_TIMEOUT).toNanos();
        this.sendTimeoutNanos = options.get(DatagramOptions.SEND_TIMEOUT).toNanos();
        this.blocking = readTimeoutNanos == 0 && sendTimeoutNanos == 0;
        channel.configureBlocking(blocking);
        this.readWaiter = new ReadinessWaiter(channel, SelectionKey.OP_READ);
        this.writeWaiter = new ReadinessWaiter(channel, SelectionKey.OP_WRITE);
        this.receiveBuffer = ByteBuffer.allocateDirect(maxDatagramSize + 1);
        LOG.debug("datagram socket open: {}", label);
    }

    @Override
    public void send(byte[] payload) throws IOException {
        Objects.requireNonNull(payload, "payload");
        send(payload, 0, payload.length);
    }

    @Override
    public void send(byte[] payload, int offset, int length) throws IOException {
        Objects.requireNonNull(payload, "payload");
        Objects.checkFromIndexSize(offset, length, payload.length);
        if (remoteEndpoint == null) {
            throw new IllegalStateException(label + " is not connected: send(Endpoint, byte[]) names where to send");
        }
        transmit(ByteBuffer.wrap(payload, offset, length), null, remoteEndpoint);
    }

    @Override
    public void send(Endpoint destination, byte[] payload) throws IOException {
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(payload, "payload");
        Endpoint to = destination.withoutParameters();
        if (!to.scheme().equals(scheme)) {
            throw new IllegalArgumentException("cannot send to " + to + " from " + label + ": a " + scheme
                    + " socket sends to " + scheme + " endpoints only");
        }
        if (remoteEndpoint != null) {
            if (!remoteEndpoint.equals(to)) {
                throw new IllegalStateException(
                        label + " is connected to " + remoteEndpoint + " and sends there only, not to " + to);
            }
            transmit(ByteBuffer.wrap(payload), null, to);
            return;
        }
        Peer peer = lastDestination;
        if (peer == null || !peer.endpoint.equals(to)) {
            try {
                peer = new Peer(to, addressing.addressOf(to));
            } catch (IOException e) {
                throw addressing.sendFailure(to, e);
            }
            lastDestination = peer;
        }
        transmit(ByteBuffer.wrap(payload), peer.address, to);
    }

    private void transmit(ByteBuffer payload, SocketAddress address, Endpoint destination) throws IOException {
        int length = payload.remaining();
        if (length == 0) {
            // The JDK's channels return 0 for an empty buffer without sending anything, and junixsocket's
            // receivers drop an empty datagram: refused, rather than lost unseen.
            throw new IllegalArgumentException("cannot send an empty datagram to " + destination
                    + ": the JDK's datagram channels send nothing for one, and Unix datagram receivers here drop "
                    + "it; send at least one byte");
        }
        if (length > maxDatagramSize) {
            throw new IllegalArgumentException("cannot send a datagram of " + length + " bytes to " + destination
                    + ": over maxDatagramSize, " + maxDatagramSize + " bytes; nothing was sent");
        }
        requireOpen();
        sendLock.lock();
        try {
            // Sent from a direct buffer of our own: junixsocket copies a heap buffer into a new one at each send.
            ByteBuffer direct = sendBuffer;
            if (direct == null || direct.capacity() < length) {
                direct = ByteBuffer.allocateDirect(Math.max(length, Math.min(maxDatagramSize, 64 * 1024)));
                sendBuffer = direct;
            }
            direct.clear();
            direct.put(payload).flip();
            if (blocking) {
                write(direct, address);
                return;
            }
            long deadline = System.nanoTime() + sendTimeoutNanos;
            while (write(direct, address) == 0) {
                awaitRoom(destination, length, deadline); // a full receiver
            }
        } catch (ClosedChannelException e) {
            throw closedWhile("sending", e);
        } catch (SocketTimeoutException e) {
            throw e;
        } catch (IOException e) {
            if (closed.get()) {
                throw closedWhile("sending", e);
            }
            throw addressing.sendFailure(destination, e);
        } finally {
            sendLock.unlock();
        }
    }

    private int write(ByteBuffer payload, SocketAddress address) throws IOException {
        return address == null ? channel.write(payload) : channel.send(payload, address);
    }

    /**
     * Waits for room until {@code deadline}; the caller tries again, and comes back here while the receiver is full.
     */
    private void awaitRoom(Endpoint destination, int length, long deadline) throws IOException {
        if (sendTimeoutNanos == 0) {
            writeWaiter.await(0);
            return;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw sendTimedOut(destination, length);
        }
        writeWaiter.await(left);
    }

    private SocketTimeoutException sendTimedOut(Endpoint destination, int length) {
        return new SocketTimeoutException("cannot send a datagram of " + length + " bytes to " + destination + " from "
                + label + ": the receiver stayed full for sendTimeout "
                + Duration.ofNanos(sendTimeoutNanos) + "; nothing was sent");
    }

    @Override
    public Datagram receive() throws IOException {
        requireOpen();
        receiveLock.lock();
        try {
            ByteBuffer buffer = receiveBuffer;
            if (blocking && remoteEndpoint != null) {
                return receiveConnected(buffer);
            }
            long deadline = System.nanoTime() + readTimeoutNanos;
            SocketAddress from;
            while (true) {
                buffer.clear();
                from = channel.receive(buffer);
                // junixsocket gives no address for a datagram from an unbound socket, and none when closed.
                if (from != null || buffer.position() > 0) {
                    break;
                }
                requireOpenWhile("receiving");
                if (!blocking) {
                    long left = readTimeoutNanos == 0 ? 0 : deadline - System.nanoTime();
                    if (readTimeoutNanos > 0 && left <= 0) {
                        throw new SocketTimeoutException("no datagram arrived at " + label + " within readTimeout "
                                + Duration.ofNanos(readTimeoutNanos));
                    }
                    readWaiter.await(left);
                }
            }
            Endpoint sender = null;
            if (from != null) {
                Peer peer = lastSender;
                if (peer == null || !peer.address.equals(from)) {
                    peer = new Peer(addressing.endpointOf(from), from);
                    lastSender = peer;
                }
                sender = peer.endpoint;
            }
            return take(buffer, sender);
        } catch (ClosedChannelException e) {
            throw closedWhile("receiving", e);
        } catch (PortUnreachableException e) {
            PortUnreachableException named = new PortUnreachableException(
                    label + ": nothing is bound at the peer's port (the host answered an earlier datagram so)");
            named.initCause(e);
            throw named;
        } catch (IOException e) {
            if (closed.get()) {
                throw closedWhile("receiving", e);
            }
            throw e;
        } finally {
            receiveLock.unlock();
        }
    }

    /**
     * A connected socket's blocking receive: a read, which takes no sender address (the peer is the only one who may
     * send), and so spares junixsocket's decoding of one, which costs it tens of microseconds for an abstract name.
     */
    private Datagram receiveConnected(ByteBuffer buffer) throws IOException {
        while (true) {
            buffer.clear();
            int read = channel.read(buffer);
            requireOpenWhile("receiving");
            // junixsocket answers -1, not a datagram, where recv found none (it drops empty datagrams so).
            if (read >= 0) {
                return take(buffer, remoteEndpoint);
            }
        }
    }

    /** The datagram in {@code buffer}, whole, or a failure if it filled the buffer: then it was over the limit. */
    private Datagram take(ByteBuffer buffer, Endpoint sender) throws ProtocolException {
        int length = buffer.position();
        if (length > maxDatagramSize) {
            throw new ProtocolException("a datagram over maxDatagramSize (" + maxDatagramSize + " bytes) arrived at "
                    + label + " from " + (sender == null ? "an unbound socket" : sender.toString())
                    + " and was dropped; raise maxDatagramSize on this side to take it");
        }
        byte[] payload = new byte[length];
        buffer.flip();
        buffer.get(payload);
        return new Datagram(payload, sender);
    }

    private void requireOpen() throws ClosedChannelException {
        if (closed.get()) {
            throw new ClosedChannelException();
        }
    }

    private void requireOpenWhile(String what) throws IOException {
        if (closed.get() || !channel.isOpen()) {
            throw closedWhile(what, null);
        }
    }

    private IOException closedWhile(String what, IOException cause) {
        AsynchronousCloseException closedNow = new AsynchronousCloseException();
        if (cause != null) {
            closedNow.initCause(cause);
        }
        return new IOException(label + " was closed while " + what, closedNow);
    }

    @Override
    public int maxDatagramSize() {
        return maxDatagramSize;
    }

    @Override
    public Endpoint localEndpoint() {
        return localEndpoint;
    }

    @Override
    public Optional<Endpoint> remoteEndpoint() {
        return Optional.ofNullable(remoteEndpoint);
    }

    @Override
    public boolean isOpen() {
        return !closed.get();
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.debug("datagram socket closed: {}", label);
        new Closer()
                .run(readWaiter::close)
                .run(writeWaiter::close)
                .run(channel::close)
                .run(release)
                .rethrow();
    }

    @Override
    public String toString() {
        return label;
    }
}
