package dev.ipc;

import java.io.Closeable;
import java.io.IOException;
import java.util.Optional;

/**
 * A socket that sends and receives whole datagrams: UDP ({@code udp://host:port}) or Unix datagrams on a socket file
 * ({@code unixgram:/path}) or in the Linux abstract namespace ({@code unixgram:@name}).
 *
 * <pre>{@code
 * // a receiver, such as a log sink: bound to its endpoint, it takes datagrams from anyone who may send there
 * try (DatagramSocket socket = Ipc.bindDatagram(Endpoint.parse("unixgram:/run/app/log.sock"))) {
 *     Datagram datagram = socket.receive();
 *     datagram.sender().ifPresent(sender -> socket.send(sender, reply));
 * }
 * // a sender with a peer: connected, it sends there and receives only from there
 * try (DatagramSocket socket = Ipc.connectDatagram(Endpoint.parse("udp://127.0.0.1:5140"))) {
 *     socket.send(bytes);
 * }
 * }</pre>
 *
 * <p>Datagrams, exactly:
 *
 * <ul>
 *   <li>Each send is one datagram and each receive returns one, whole, with its sender; there is no framing, so a
 *       program in any language sends to this socket with a plain {@code sendto}.
 *   <li>Sizes: a send larger than {@link #maxDatagramSize()} fails with an {@link IllegalArgumentException} before
 *       anything is sent. A datagram larger than that which arrives is dropped and its receive fails with a
 *       {@link java.net.ProtocolException} naming its sender; the socket stays usable. Nothing is ever cut short. An
 *       empty payload is refused: the JDK's channels send nothing for one. A UDP socket receives an empty datagram
 *       another program sends as an empty payload; a Unix datagram socket never sees one, since junixsocket 2.10.1
 *       takes it for "nothing arrived" and drops it.
 *   <li>Delivery: UDP may lose, duplicate or reorder datagrams; a full receiver drops what arrives. Unix datagrams are
 *       reliable and ordered on one host: a receiver's queue that is full holds the sender back, up to
 *       {@link DatagramOptions#SEND_TIMEOUT}. A send to a Unix address nobody has bound fails with a
 *       {@link java.net.ConnectException}; a UDP send to a port nobody has bound succeeds, and a connected UDP socket
 *       may learn of it later as a {@link java.net.PortUnreachableException} from a send or receive.
 *   <li>Timeouts: a receive waits at most {@link ConnectionOptions#READ_TIMEOUT}, then throws
 *       {@link java.net.SocketTimeoutException} and leaves the socket usable.
 *   <li>Threads: sends may come from several threads at once, and so may receives; one datagram goes to one receiver.
 *       {@link #close()} is idempotent and makes a thread blocked in a receive or send fail with an
 *       {@link IOException}.
 * </ul>
 *
 * <p>Security: datagrams have no TLS and no shared secret. On Unix, who may send is who may write the socket file (its
 * {@link ConnectionOptions#MODE mode}, {@link ConnectionOptions#GROUP group} and directory, set up as for a stream
 * socket file); in the abstract namespace anyone on the host may, so binding there must say {@code access=anyone}. The
 * library reads no sender credentials from datagrams (see {@code docs/SECURITY.md}). A UDP socket binds loopback only,
 * unless {@link ConnectionOptions#ALLOW_INSECURE_PLAINTEXT} allows more.
 */
public interface DatagramSocket extends Closeable {

    /**
     * Sends one datagram to the connected peer.
     *
     * @throws IllegalStateException if this socket is not connected (use {@link #send(Endpoint, byte[])})
     * @throws IllegalArgumentException if the payload is empty or over {@link #maxDatagramSize()}; nothing is sent
     * @throws java.net.SocketTimeoutException if the receiver stayed full for the send timeout; nothing was sent
     * @throws IOException if sending fails or the socket is closed; the message names the destination and the cause
     */
    void send(byte[] payload) throws IOException;

    /** Sends {@code length} bytes of {@code payload} from {@code offset} as one datagram; see {@link #send(byte[])}. */
    void send(byte[] payload, int offset, int length) throws IOException;

    /**
     * Sends one datagram to {@code destination}, an endpoint of this socket's scheme, without its query.
     *
     * @throws IllegalArgumentException if the destination is of another scheme, or the payload is empty or over
     *     {@link #maxDatagramSize()}; nothing is sent
     * @throws IllegalStateException if this socket is connected and {@code destination} is not its peer
     * @throws java.net.ConnectException if nobody has bound a Unix destination
     * @throws IOException as {@link #send(byte[])} does
     */
    void send(Endpoint destination, byte[] payload) throws IOException;

    /**
     * Receives one datagram, waiting for it at most the read timeout.
     *
     * @throws java.net.SocketTimeoutException if none arrived within the read timeout; the socket stays usable
     * @throws java.net.ProtocolException if the datagram was over {@link #maxDatagramSize()}; it is dropped and the
     *     socket stays usable
     * @throws IOException if receiving fails, or the socket is closed (before or during the call)
     */
    Datagram receive() throws IOException;

    /**
     * The largest datagram this socket sends or receives, in bytes: {@link DatagramOptions#MAX_DATAGRAM_SIZE}, which
     * the socket checked against what the system carries when it was made.
     */
    int maxDatagramSize();

    /**
     * This socket's own address: the endpoint it was bound to (with the real port for port 0), or for a connected
     * socket the address it was given to receive replies at ({@code udp://127.0.0.1:PORT}, or on Unix an address in the
     * abstract namespace).
     */
    Endpoint localEndpoint();

    /** The peer of a connected socket; empty for a bound one. */
    Optional<Endpoint> remoteEndpoint();

    /** Whether {@link #close()} has not yet run. */
    boolean isOpen();

    /** Closes the socket, and for a socket file this socket created, removes the file and its lock; idempotent. */
    @Override
    void close() throws IOException;
}
