package dev.ipc.tcp;

import dev.ipc.Connection;
import dev.ipc.Endpoint;
import dev.ipc.IpcOptions;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.Closer;
import dev.ipc.internal.ConnectionState;
import dev.ipc.internal.Handshaking;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Connection} over TLS: the JDK's {@link SSLSocket} layered on a connected TCP channel in
 * blocking mode, with the same framing, limits and timeouts as every other connection.
 *
 * <p>A small message goes out as one TLS record in one write; a receive reads what has arrived into a
 * buffer. The read timeout is the socket's {@code SO_TIMEOUT}; a timeout keeps a half-read frame for
 * the next call. {@link #close()} sends TLS's close_notify when no write is in progress, then closes
 * the TCP channel, which wakes any thread blocked on it.
 */
final class TlsConnection implements Connection, Handshaking, ConnectionState {

    private static final Logger LOG = LoggerFactory.getLogger(TlsConnection.class);
    private static final int BUFFER_SIZE = 32 * 1024;
    private static final int CHUNK = 1024 * 1024;

    private final SocketChannel channel;
    private final SSLSocket socket;
    private final Endpoint localEndpoint;
    private final String label;
    private final String remote;
    private final int maxFrameSize;
    private final Duration readTimeout;
    private final boolean ownCertificate;
    private final InputStream in;
    private final OutputStream out;
    private volatile PeerCredentials peer = PeerCredentials.unknown();

    private final ReentrantLock readLock = new ReentrantLock();
    private final ReentrantLock writeLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();

    // Guarded by readLock: unread bytes lie between position and limit.
    private final byte[] readBuffer = new byte[BUFFER_SIZE];
    private int position;
    private int limit;
    private int pendingLength = -1;
    private byte[] pendingMessage;
    private int pendingFilled;
    private volatile boolean inputShut;
    private volatile boolean receivedAnything;
    private volatile long partialSince;

    // Guarded by writeLock.
    private final byte[] writeBuffer = new byte[BUFFER_SIZE];
    private boolean outputShut;

    private final InputStream input = new RawInput();
    private final OutputStream output = new RawOutput();

    TlsConnection(SocketChannel channel, SSLSocket socket, Endpoint localEndpoint, String remote, IpcOptions options,
            String label) throws IOException {
        this.ownCertificate = options.tls().hasKey();
        this.channel = Objects.requireNonNull(channel, "channel");
        this.socket = Objects.requireNonNull(socket, "socket");
        this.localEndpoint = localEndpoint;
        this.remote = remote;
        this.label = label;
        this.maxFrameSize = options.maxFrameSize();
        this.readTimeout = options.readTimeout();
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, readTimeout.toMillis()));
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    @Override
    public void handshake() throws IOException {
        try {
            socket.startHandshake();
        } catch (javax.net.ssl.SSLException e) {
            if (!socket.getUseClientMode()) {
                lingerAfterRefusal();
            }
            throw TlsTransport.explain(e, "with " + remote, socket.getUseClientMode(), ownCertificate);
        }
        try {
            peer = PeerCredentials.ofPrincipal(socket.getSession().getPeerPrincipal().getName());
        } catch (SSLPeerUnverifiedException e) {
            peer = PeerCredentials.unknown(); // a client that sent no certificate, where none is required
        }
        LOG.debug("TLS connection open: {}, {} {}, peer {}", label, socket.getSession().getProtocol(),
                socket.getSession().getCipherSuite(), peer);
    }

    /**
     * After a refused handshake, ends the stream with a FIN behind the alert and reads what the client
     * still sends, for up to a second, before the caller closes. Closing at once would answer the
     * client's next bytes with a reset, and under TLS 1.3 (where a client's handshake is over before the
     * server has checked its certificate) the client would then lose the alert that says why.
     */
    private void lingerAfterRefusal() {
        try {
            if (!channel.isOpen()) {
                return;
            }
            channel.shutdownOutput();
            java.net.Socket raw = channel.socket();
            raw.setSoTimeout(250);
            InputStream drain = raw.getInputStream();
            byte[] sink = new byte[4096];
            long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
            while (System.nanoTime() < until) {
                try {
                    if (drain.read(sink) < 0) {
                        return;
                    }
                } catch (SocketTimeoutException e) {
                    // keep waiting until the second is up
                }
            }
        } catch (IOException e) {
            // the client is gone: nothing to wait for
        }
    }

    @Override
    public AutoCloseable abortHandle() {
        return channel;
    }

    @Override
    public String remote() {
        return remote;
    }

    @Override
    public long partialFrameSince() {
        return partialSince;
    }

    @Override
    public boolean suitsVirtualThreads() {
        return true;
    }

    // ---- sending ----------------------------------------------------------------------------------

    @Override
    public void send(byte[] message) throws IOException {
        send(message, 0, message.length);
    }

    @Override
    public void send(byte[] message, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, message.length);
        checkSendable(length);
        writeLock.lock();
        try {
            ensureOpen();
            if (length <= writeBuffer.length - 4) {
                putInt(writeBuffer, length);
                System.arraycopy(message, offset, writeBuffer, 4, length);
                out.write(writeBuffer, 0, 4 + length);
            } else {
                putInt(writeBuffer, length);
                out.write(writeBuffer, 0, 4);
                for (int done = 0; done < length; done += CHUNK) {
                    out.write(message, offset + done, Math.min(CHUNK, length - done));
                }
            }
        } catch (IOException e) {
            throw fail(explainWriteFailure(e)); // part of a frame may be out: the stream can't be trusted any more
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void send(ByteBuffer message) throws IOException {
        if (message.hasArray()) {
            int length = message.remaining();
            send(message.array(), message.arrayOffset() + message.position(), length);
            message.position(message.position() + length);
        } else {
            checkSendable(message.remaining());
            byte[] copy = new byte[message.remaining()];
            message.get(copy);
            send(copy);
        }
    }

    /**
     * Under TLS 1.3 a server checks a client's certificate after the client's handshake has returned; a
     * refused client may then find the connection gone on its first write, before it could read the alert
     * that says why. Says so instead of a bare "Broken pipe".
     */
    private IOException explainWriteFailure(IOException e) {
        if (e instanceof javax.net.ssl.SSLException || closed.get() || receivedAnything || !socket.getUseClientMode()) {
            return e;
        }
        javax.net.ssl.SSLHandshakeException explained = new javax.net.ssl.SSLHandshakeException("TLS with " + remote
                + " failed: the server closed the connection right after the handshake (" + e.getMessage() + "); "
                + "under TLS 1.3 that is how a server refuses a client's certificate, or the lack of one: the server's "
                + "log names the cause");
        explained.initCause(e);
        return explained;
    }

    private void checkSendable(int length) {
        if (length > maxFrameSize) {
            throw new IllegalArgumentException("message of " + length + " bytes is over maxFrameSize "
                    + maxFrameSize + " on " + label + "; nothing was sent");
        }
    }

    private static void putInt(byte[] bytes, int value) {
        bytes[0] = (byte) (value >>> 24);
        bytes[1] = (byte) (value >>> 16);
        bytes[2] = (byte) (value >>> 8);
        bytes[3] = (byte) value;
    }

    @Override
    public void sendWithDescriptors(byte[] message, FileDescriptor... descriptors) {
        throw new UnsupportedOperationException("cannot pass file descriptors on " + label
                + ": file descriptors pass only over Unix sockets, not TLS");
    }

    @Override
    public List<FileDescriptor> takeReceivedDescriptors() {
        return List.of();
    }

    @Override
    public boolean canPassDescriptors() {
        return false;
    }

    // ---- receiving --------------------------------------------------------------------------------

    @Override
    public byte[] receive() throws IOException {
        readLock.lock();
        try {
            ensureOpen();
            int length = nextLength();
            if (length < 0) {
                return null;
            }
            byte[] message;
            if (length <= readBuffer.length) {
                fillTo(length);
                message = java.util.Arrays.copyOfRange(readBuffer, position, position + length);
                position += length;
            } else {
                message = readLarge();
            }
            pendingLength = -1;
            partialSince = limit > position ? System.nanoTime() : 0;
            return message;
        } catch (IOException e) {
            throw e instanceof SocketTimeoutException ? e : fail(e);
        } finally {
            readLock.unlock();
        }
    }

    @Override
    public int receive(ByteBuffer destination) throws IOException {
        readLock.lock();
        try {
            ensureOpen();
            int length = nextLength();
            if (length < 0) {
                return -1;
            }
            if (length > destination.remaining()) {
                throw new IllegalArgumentException("the next message on " + label + " is " + length
                        + " bytes, over the buffer's " + destination.remaining()
                        + " remaining; it stays pending for a call with room for it");
            }
            if (length <= readBuffer.length) {
                fillTo(length);
                destination.put(readBuffer, position, length);
                position += length;
            } else {
                destination.put(readLarge());
            }
            pendingLength = -1;
            partialSince = limit > position ? System.nanoTime() : 0;
            return length;
        } catch (IOException e) {
            throw e instanceof SocketTimeoutException ? e : fail(e);
        } finally {
            readLock.unlock();
        }
    }

    private int nextLength() throws IOException {
        if (pendingLength >= 0) {
            return pendingLength;
        }
        while (limit - position < 4) {
            int had = limit - position;
            if (readSome() < 0) {
                if (had == 0) {
                    return -1;
                }
                throw new EOFException("connection " + label + " ended inside a frame: after " + had
                        + " of 4 length bytes");
            }
        }
        int length = (readBuffer[position] & 0xff) << 24 | (readBuffer[position + 1] & 0xff) << 16
                | (readBuffer[position + 2] & 0xff) << 8 | (readBuffer[position + 3] & 0xff);
        position += 4;
        if (length < 0) {
            throw new ProtocolException("frame on " + label + " declares a negative length ("
                    + length + ", 0x" + Integer.toHexString(length) + "); the limit is maxFrameSize " + maxFrameSize);
        }
        if (length > maxFrameSize) {
            throw new ProtocolException("frame on " + label + " declares " + length + " bytes, over maxFrameSize "
                    + maxFrameSize);
        }
        pendingLength = length;
        return length;
    }

    private void fillTo(int length) throws IOException {
        while (limit - position < length) {
            int had = limit - position;
            if (readSome() < 0) {
                throw truncated(had, length);
            }
        }
    }

    private byte[] readLarge() throws IOException {
        if (pendingMessage == null) {
            pendingMessage = new byte[pendingLength];
            pendingFilled = 0;
        }
        while (pendingFilled < pendingLength) {
            if (limit > position) {
                int count = Math.min(limit - position, pendingLength - pendingFilled);
                System.arraycopy(readBuffer, position, pendingMessage, pendingFilled, count);
                position += count;
                pendingFilled += count;
                continue;
            }
            int count = read(pendingMessage, pendingFilled, Math.min(CHUNK, pendingLength - pendingFilled));
            if (count < 0) {
                throw truncated(pendingFilled, pendingLength);
            }
            pendingFilled += count;
        }
        byte[] message = pendingMessage;
        pendingMessage = null;
        return message;
    }

    private EOFException truncated(int got, int length) {
        return new EOFException("connection " + label + " ended inside a frame: after " + got + " of "
                + length + " payload bytes");
    }

    /** Reads once into the buffer, keeping its unread bytes; the count, or -1 at end of stream. */
    private int readSome() throws IOException {
        if (position > 0) {
            System.arraycopy(readBuffer, position, readBuffer, 0, limit - position);
            limit -= position;
            position = 0;
        }
        int count = read(readBuffer, limit, readBuffer.length - limit);
        if (count > 0) {
            limit += count;
            if (partialSince == 0) {
                partialSince = System.nanoTime();
            }
        }
        return count;
    }

    private int read(byte[] bytes, int offset, int length) throws IOException {
        if (inputShut) {
            return -1;
        }
        try {
            int count = in.read(bytes, offset, length);
            if (count > 0) {
                receivedAnything = true;
            }
            if (count < 0 && closed.get()) {
                throw new AsynchronousCloseException();
            }
            return count;
        } catch (SocketTimeoutException e) {
            SocketTimeoutException named = new SocketTimeoutException("no data on " + label + " within readTimeout "
                    + readTimeout);
            named.initCause(e);
            throw named;
        } catch (javax.net.ssl.SSLException e) {
            if (closed.get()) {
                AsynchronousCloseException asynchronous = new AsynchronousCloseException();
                asynchronous.initCause(e);
                throw asynchronous;
            }
            // Under TLS 1.3 a server refuses a client's certificate after the client's handshake is done:
            // the client learns of it here, on its first read.
            throw TlsTransport.explain(e, "with " + remote, socket.getUseClientMode(), ownCertificate);
        } catch (IOException e) {
            if (closed.get() && !(e instanceof AsynchronousCloseException)) {
                AsynchronousCloseException asynchronous = new AsynchronousCloseException();
                asynchronous.initCause(e);
                throw asynchronous;
            }
            throw e;
        }
    }

    // ---- streams, half-close, close ------------------------------------------------------------------

    @Override
    public InputStream input() {
        return input;
    }

    @Override
    public OutputStream output() {
        return output;
    }

    @Override
    public void shutdownOutput() throws IOException {
        writeLock.lock();
        try {
            ensureOpen();
            if (!outputShut) {
                outputShut = true;
                socket.shutdownOutput(); // TLS 1.3: a close_notify, and the peer may still answer
            }
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void shutdownInput() throws IOException {
        ensureOpen();
        // SSLSocket.shutdownInput() before the peer's close_notify is a fatal alert that ends the whole
        // connection; end only this side's reading, at the TCP level.
        inputShut = true;
        channel.shutdownInput();
    }

    @Override
    public PeerCredentials peer() {
        return peer;
    }

    @Override
    public Endpoint localEndpoint() {
        return localEndpoint;
    }

    @Override
    public boolean isOpen() {
        return !closed.get() && channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.debug("connection closed: {}", label);
        Closer closer = new Closer();
        // A close_notify tells the peer the stream ended cleanly, not cut; skipped when a writer is stuck.
        if (writeLock.tryLock()) {
            try {
                if (!outputShut && channel.isOpen() && socket.getSession().isValid()) {
                    outputShut = true;
                    closer.run(socket::shutdownOutput);
                }
            } finally {
                writeLock.unlock();
            }
        }
        // The channel first: it wakes a thread blocked in a read or write at once.
        closer.close(channel).close(socket);
        try {
            closer.rethrow();
        } catch (SocketException e) {
            LOG.debug("closing {}: {}", label, e.toString()); // the peer had gone already
        }
    }

    @Override
    public String toString() {
        return "Connection[" + label + (isOpen() ? "" : ", closed") + "]";
    }

    private void ensureOpen() throws SocketException {
        if (closed.get()) {
            throw new SocketException("connection " + label + " is closed");
        }
    }

    private IOException fail(IOException fault) {
        if (!closed.get()) {
            LOG.debug("connection {} failed: {}", label, fault.toString());
        }
        Closer.closeQuietly(this, fault);
        return fault;
    }

    private final class RawInput extends InputStream {
        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int count = read(one, 0, 1);
            return count < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            Objects.checkFromIndexSize(offset, length, bytes.length);
            if (length == 0) {
                return 0;
            }
            readLock.lock();
            try {
                ensureOpen();
                if (pendingLength >= 0) {
                    throw new IllegalStateException("a message on " + label
                            + " is half received; finish it with receive() before reading raw bytes");
                }
                if (limit == position) {
                    if (length >= readBuffer.length) {
                        return TlsConnection.this.read(bytes, offset, Math.min(length, CHUNK));
                    }
                    if (readSome() < 0) {
                        return -1;
                    }
                }
                int count = Math.min(length, limit - position);
                System.arraycopy(readBuffer, position, bytes, offset, count);
                position += count;
                partialSince = 0; // raw bytes have no frames to time
                return count;
            } finally {
                readLock.unlock();
            }
        }

        @Override
        public int available() throws IOException {
            readLock.lock();
            try {
                ensureOpen();
                return limit - position;
            } finally {
                readLock.unlock();
            }
        }

        @Override
        public void close() throws IOException {
            if (isOpen()) {
                shutdownInput();
            }
        }
    }

    private final class RawOutput extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            Objects.checkFromIndexSize(offset, length, bytes.length);
            writeLock.lock();
            try {
                ensureOpen();
                for (int done = 0; done < length; done += CHUNK) {
                    out.write(bytes, offset + done, Math.min(CHUNK, length - done));
                }
            } catch (IOException e) {
                throw explainWriteFailure(e);
            } finally {
                writeLock.unlock();
            }
        }

        @Override
        public void close() throws IOException {
            if (isOpen()) {
                shutdownOutput();
            }
        }
    }
}
