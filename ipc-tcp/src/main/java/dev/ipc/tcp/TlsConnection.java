package dev.ipc.tcp;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Connection} over TLS: the JDK's {@link SSLSocket} layered on a connected TCP channel in blocking mode. What
 * it adds to the {@link FramedConnection} skeleton is TLS: the handshake, reads and writes through the socket's
 * streams, the read timeout as {@code SO_TIMEOUT}, close_notify, and errors that say what TLS refused.
 *
 * <p>A small message goes out as one TLS record in one write. A read timeout keeps a half-read frame for the next call.
 * {@link #close()} sends TLS's close_notify when no write is in progress, then closes the TCP channel, which wakes any
 * thread blocked on it.
 */
final class TlsConnection extends FramedConnection {

    private static final Logger LOG = LoggerFactory.getLogger(TlsConnection.class);

    private final SocketChannel channel;
    private final SSLSocket socket;
    private final Endpoint localEndpoint;
    private final String remote;
    private final Duration readTimeout;
    private final boolean ownCertificate;
    private final InputStream in;
    private final OutputStream out;
    private volatile PeerCredentials peer = PeerCredentials.unknown();

    private volatile boolean inputShut;
    private volatile boolean receivedAnything;

    // Guarded by writeLock.
    private boolean outputShut;
    private byte[] copyBuffer;

    TlsConnection(
            SocketChannel channel,
            SSLSocket socket,
            Endpoint localEndpoint,
            String remote,
            ConnectionOptions options,
            String label)
            throws IOException {
        super(label, false, options);
        this.ownCertificate = TlsContexts.hasKey(options);
        this.channel = Objects.requireNonNull(channel, "channel");
        this.socket = Objects.requireNonNull(socket, "socket");
        this.localEndpoint = localEndpoint;
        this.remote = remote;
        this.readTimeout = options.get(ConnectionOptions.READ_TIMEOUT);
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, readTimeout.toMillis()));
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    @Override
    public void handshake() throws IOException {
        try {
            socket.startHandshake();
        } catch (SSLException e) {
            if (!socket.getUseClientMode()) {
                lingerAfterRefusal();
            }
            throw TlsTransport.explain(e, "with " + remote, socket.getUseClientMode(), ownCertificate);
        }
        try {
            peer = PeerCredentials.ofPrincipal(
                    socket.getSession().getPeerPrincipal().getName());
        } catch (SSLPeerUnverifiedException e) {
            peer = PeerCredentials.unknown(); // a client that sent no certificate, where none is required
        }
        LOG.debug(
                "TLS connection open: {}, {} {}, peer {}",
                label,
                socket.getSession().getProtocol(),
                socket.getSession().getCipherSuite(),
                peer);
    }

    /**
     * After a refused handshake, ends the stream with a FIN behind the alert and reads what the client still sends, for
     * up to a second, before the caller closes. Closing at once would answer the client's next bytes with a reset, and
     * under TLS 1.3 (where a client's handshake is over before the server has checked its certificate) the client would
     * then lose the alert that says why.
     */
    private void lingerAfterRefusal() {
        try {
            if (!channel.isOpen()) {
                return;
            }
            channel.shutdownOutput();
            Socket raw = channel.socket();
            raw.setSoTimeout(250);
            InputStream drain = raw.getInputStream();
            byte[] sink = new byte[4096];
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
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
    public boolean hasHandshake() {
        return true;
    }

    @Override
    public AutoCloseable abortHandle() {
        return channel;
    }

    @Override
    public String remote() {
        return remote;
    }

    // ---- the skeleton's primitives ------------------------------------------------------------------

    @Override
    protected void writeFully(ByteBuffer[] sources) throws IOException {
        try {
            for (ByteBuffer source : sources) {
                if (source.hasArray()) {
                    out.write(source.array(), source.arrayOffset() + source.position(), source.remaining());
                    source.position(source.limit());
                    continue;
                }
                if (copyBuffer == null) {
                    copyBuffer = new byte[BUFFER_SIZE];
                }
                while (source.hasRemaining()) {
                    int count = Math.min(copyBuffer.length, source.remaining());
                    source.get(copyBuffer, 0, count);
                    out.write(copyBuffer, 0, count);
                }
            }
        } catch (IOException e) {
            throw explainWriteFailure(e);
        }
    }

    /**
     * Under TLS 1.3 a server checks a client's certificate after the client's handshake has returned; a refused client
     * may then find the connection gone on its first write, before it could read the alert that says why. Says so
     * instead of a bare "Broken pipe".
     */
    private IOException explainWriteFailure(IOException e) {
        if (e instanceof SSLException || closed.get() || receivedAnything || !socket.getUseClientMode()) {
            return e;
        }
        SSLHandshakeException explained = new SSLHandshakeException("TLS with " + remote
                + " failed: the server closed the connection right after the handshake (" + e.getMessage() + "); "
                + "under TLS 1.3 that is how a server refuses a client's certificate, or the lack of one: the "
                + "server's log names the cause");
        explained.initCause(e);
        return explained;
    }

    @Override
    protected String whyNoDescriptors() {
        return "file descriptors pass only over Unix sockets, not TLS";
    }

    /** One read into a heap buffer, waiting at most the read timeout; the count, or -1 at end of stream. */
    @Override
    protected int readInto(ByteBuffer destination) throws IOException {
        int count =
                read(destination.array(), destination.arrayOffset() + destination.position(), destination.remaining());
        if (count > 0) {
            destination.position(destination.position() + count);
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
            SocketTimeoutException named =
                    new SocketTimeoutException("no data on " + label + " within readTimeout " + readTimeout);
            named.initCause(e);
            throw named;
        } catch (SSLException e) {
            if (closed.get()) {
                AsynchronousCloseException asynchronous = new AsynchronousCloseException();
                asynchronous.initCause(e);
                throw asynchronous;
            }
            // Under TLS 1.3 a server refuses a client's certificate after the client's handshake is done: the client
            // learns of it here, on its first read.
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

    @Override
    protected void closeOutput() throws IOException {
        if (!outputShut) {
            outputShut = true;
            socket.shutdownOutput(); // TLS 1.3: a close_notify, and the peer may still answer
        }
    }

    @Override
    public void shutdownInput() throws IOException {
        ensureOpen();
        // SSLSocket.shutdownInput() before the peer's close_notify is a fatal alert that ends the whole connection;
        // end only this side's reading, at the TCP level.
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

    /** A close_notify tells the peer the stream ended cleanly, not cut. */
    @Override
    protected void beforeRelease() throws IOException {
        if (!outputShut && channel.isOpen() && socket.getSession().isValid()) {
            outputShut = true;
            socket.shutdownOutput();
        }
    }

    @Override
    protected void release(Closer closer) {
        // The channel first: it wakes a thread blocked in a read or write at once. A peer that had gone already is
        // no failure of this close.
        Closer own = new Closer().close(channel).close(socket);
        closer.run(() -> {
            try {
                own.rethrow();
            } catch (SocketException e) {
                LOG.debug("closing {}: {}", label, e.toString());
            }
        });
    }
}
