package dev.ipc;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One open, bidirectional connection between two processes.
 *
 * <p>A connection carries either length-prefixed messages ({@link #send(byte[])} and {@link #receive()}: a {@code u32}
 * big-endian length, then that many bytes) or raw bytes for a protocol of the user's own ({@link #input()} and
 * {@link #output()}). Both go through the same buffers, so a protocol may switch between them at a message boundary.
 *
 * <p>All I/O blocks the calling thread. Sends are serialised with one another and receives with one another, so one
 * thread may send while another receives, and several threads may share one side.
 *
 * <p>Sending, exactly:
 *
 * <ul>
 *   <li>{@link #send(byte[])} returns once the message is in the kernel's send buffer, or, if another thread is writing
 *       at that moment, once it is queued behind that thread's write, which writes it (with whatever else queued, in
 *       one system call) before its own call returns. A return says nothing of the peer having read it.
 *   <li>{@link #write(byte[])} queues the message without asking for it to go out: a copy, no system call. It goes to
 *       the kernel at the next {@link #flush()}, {@code send}, {@link #shutdownOutput()} or {@link #close()}, or
 *       earlier, when the queue fills or another thread's send writes the queue. Many small messages then cost one
 *       system call: for streams of small messages, write each and flush when the burst is done.
 *   <li>Order: messages go out in the order their calls took the queue or the socket. One thread's messages keep its
 *       order; messages of concurrent threads interleave whole, never mixed within a frame.
 *   <li>Memory: a connection holds at most 64 KiB of queued frames, plus as much again while they are being written; a
 *       sender that finds the queue full writes it itself, waiting for the kernel to take it (backpressure from a slow
 *       reader reaches the senders, and memory never grows with it). A message larger than the queue is written
 *       directly, after what was queued before it.
 *   <li>{@link #close()} sends what is queued first, waiting for the writer before it and for the kernel at most
 *       {@link ConnectionOptions#CLOSE_TIMEOUT}; what could not be sent by then is dropped and counted in the
 *       {@link IOException} close throws, after closing all the same.
 * </ul>
 *
 * <p>Reads honour {@link ConnectionOptions#READ_TIMEOUT} on every transport; a timeout throws
 * {@link java.net.SocketTimeoutException} and leaves the connection usable, a half-received message included.
 *
 * <p>A malformed frame (a negative length, or one over {@link ConnectionOptions#MAX_FRAME_SIZE}) or an end of stream
 * inside a frame closes this connection, and only this one, and throws an {@link IOException} that says what was wrong.
 * {@link #close()} is idempotent and unblocks threads waiting in any method.
 *
 * <p>Nulls: no argument may be null (a null message fails with a {@link NullPointerException} naming it, and nothing is
 * sent); {@link #receive()} returns null, and only it, at a clean end of stream.
 */
public interface Connection extends Closeable {

    /**
     * Sends one message: its length, then its bytes, in one system call where they fit the send buffer, after
     * everything queued before it. Returns once it is in the kernel's send buffer or queued behind another thread's
     * write that will write it (see the class's rules on sending).
     *
     * @throws IllegalArgumentException if the message is longer than {@link ConnectionOptions#MAX_FRAME_SIZE}; nothing
     *     is sent and the connection stays usable
     * @throws IOException if the connection fails or is closed
     */
    void send(byte[] message) throws IOException;

    /**
     * Queues one message to be sent without asking for a system call: it reaches the kernel at the next
     * {@link #flush()}, send, {@link #shutdownOutput()} or {@link #close()}, or sooner when the queue fills (see the
     * class's rules on sending). Returns once the message is copied, or, when the queue was full, once the queue before
     * it has gone to the kernel.
     *
     * @throws IllegalArgumentException if the message is longer than {@link ConnectionOptions#MAX_FRAME_SIZE}; nothing
     *     is queued and the connection stays usable
     * @throws IOException if the connection fails or is closed, or its output was shut down
     */
    void write(byte[] message) throws IOException;

    /**
     * Queues the remaining bytes of {@code message} as one message and advances its position; see
     * {@link #write(byte[])}.
     */
    void write(ByteBuffer message) throws IOException;

    /**
     * Sends every message queued by {@link #write(byte[])} (and by senders queued behind another thread): returns once
     * they are all in the kernel's send buffer, waiting while it is full.
     *
     * @throws IOException if the connection fails or is closed
     */
    void flush() throws IOException;

    /** Sends {@code length} bytes of {@code message} from {@code offset} as one message; see {@link #send(byte[])}. */
    void send(byte[] message, int offset, int length) throws IOException;

    /**
     * Sends the remaining bytes of {@code message} as one message and advances its position; see {@link #send(byte[])}.
     */
    void send(ByteBuffer message) throws IOException;

    /**
     * Receives one message.
     *
     * @return the message, or {@code null} if the peer closed its side at a message boundary
     * @throws java.net.SocketTimeoutException if no message completed within the read timeout
     * @throws java.io.EOFException if the stream ended inside a frame; the connection is then closed
     * @throws java.net.ProtocolException if the frame's length is negative or over the limit; the connection is then
     *     closed and nothing was allocated for it
     * @throws IOException if the connection fails or is closed
     */
    byte[] receive() throws IOException;

    /**
     * Receives one message into {@code destination}, from its position.
     *
     * @return the message's length, or -1 if the peer closed its side at a message boundary
     * @throws IllegalArgumentException if the next message is longer than {@code destination.remaining()}; the message
     *     stays pending, so a call with a larger buffer (or {@link #receive()}) still gets it
     * @throws IOException as {@link #receive()} does
     */
    int receive(ByteBuffer destination) throws IOException;

    /**
     * Sends one message with open file descriptors attached ({@code SCM_RIGHTS}): the peer receives its own copies of
     * them, usable after this side closes its own.
     *
     * @throws UnsupportedOperationException if this connection can't pass descriptors (see
     *     {@link #canPassDescriptors()}); the message says why, and nothing is sent
     * @throws IOException as {@link #send(byte[])} does
     */
    void sendWithDescriptors(byte[] message, FileDescriptor... descriptors) throws IOException;

    /**
     * Takes the file descriptors that arrived with what was received so far, oldest first, and clears them. They arrive
     * with the first bytes of the message they were sent with. The caller owns them and must close them (for example
     * through {@code new FileInputStream(descriptor).close()}); those not taken are closed with the connection. A
     * connection takes descriptors only where {@link ConnectionOptions#MAX_RECEIVED_DESCRIPTORS} says it may (none by
     * default): those a peer attaches otherwise are closed by the kernel and never reach this process.
     */
    List<FileDescriptor> takeReceivedDescriptors();

    /**
     * Whether this connection can pass file descriptors: Unix sockets through junixsocket can, unless the connection
     * carries its data in shared memory ({@code sharedMemory}); the JDK's Unix channels and TCP cannot.
     */
    boolean canPassDescriptors();

    /**
     * Whether this connection's bytes travel through shared memory rather than its socket: a Unix socket whose two
     * sides agreed to it ({@link ConnectionOptions#SHARED_MEMORY}); false on every other transport.
     */
    default boolean isSharedMemory() {
        return false;
    }

    /**
     * The bytes that arrive, for a protocol of the user's own.
     *
     * <p>Reads honour the read timeout. Closing the stream shuts down this side's input only.
     */
    InputStream input();

    /**
     * A stream to write raw bytes, for a protocol of the user's own.
     *
     * <p>Unbuffered: each write is a system call, so wrap it in a {@link java.io.BufferedOutputStream} for small
     * writes. Closing the stream shuts down this side's output (a half-close); the connection stays open for reading.
     */
    OutputStream output();

    /** Half-closes: the peer reads an end of stream, and this side can still receive. */
    void shutdownOutput() throws IOException;

    /** Stops receiving: further reads on this side see an end of stream. */
    void shutdownInput() throws IOException;

    /** Who is on the other side, as far as the transport can tell. */
    PeerCredentials peer();

    /**
     * This side's endpoint.
     *
     * <p>For an accepted connection, the listener's endpoint; for a TCP client, its local address and port; for a Unix
     * client, whose socket has no name of its own, the endpoint it connected to.
     */
    Endpoint localEndpoint();

    /** Whether {@link #close()} has not yet run and no fault has closed the connection. */
    boolean isOpen();

    /** Closes the connection; idempotent, and threads blocked in it fail with an {@link IOException}. */
    @Override
    void close() throws IOException;
}
