package dev.ipc.unix;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.spi.DatagramTransport;
import java.io.IOException;
import java.util.Optional;

/**
 * Unix datagrams through junixsocket (the JDK has no Unix datagram sockets), for {@code unixgram:/path} and
 * {@code unixgram:@name} endpoints.
 *
 * <p>A socket file is created and guarded as a stream listener's is: a private directory if missing, the lock file, a
 * stale file reclaimed and a live one left alone, the mode and group set before the file appears. Who may send is who
 * may write the file. The abstract namespace has no permissions, so binding there must say {@code access=anyone}; and
 * since the library reads no credentials from datagrams, no other access policy is taken.
 */
public final class UnixDatagramTransport implements DatagramTransport {

    /** Public for {@link java.util.ServiceLoader}. */
    public UnixDatagramTransport() {}

    @Override
    public String scheme() {
        return Endpoint.UNIXGRAM;
    }

    @Override
    public String name() {
        return "junixsocket";
    }

    @Override
    public boolean isAvailable() {
        return JunixsocketUnixTransport.cause() == null;
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.ofNullable(JunixsocketUnixTransport.cause());
    }

    @Override
    public DatagramSocket bind(Endpoint endpoint, DatagramOptions options) throws IOException {
        requireAvailable();
        Optional<AccessPolicy> access = options.find(ConnectionOptions.ACCESS);
        if (access.isPresent() && !AccessPolicy.anyone().equals(access.get())) {
            throw new IllegalArgumentException("cannot bind " + endpoint + " with access=" + access.get()
                    + ": datagrams carry no credentials the library can read, so no policy but anyone can be "
                    + "kept; who may send is who may write the socket file (mode, group and its directory), or use a "
                    + "unix: stream socket, whose peer's credentials are checked");
        }
        if (endpoint.isAbstract() && access.isEmpty()) {
            throw new IllegalArgumentException("cannot bind " + endpoint
                    + ": an abstract-namespace socket has no file permissions, so anyone on this host could send to "
                    + "it; say access=anyone in the endpoint to accept that, or bind a socket file "
                    + "(unixgram:/path) whose mode decides who may send");
        }
        return JunixsocketDatagrams.bind(endpoint, options, id());
    }

    @Override
    public DatagramSocket connect(Endpoint endpoint, DatagramOptions options) throws IOException {
        requireAvailable();
        return JunixsocketDatagrams.connect(endpoint, options, id());
    }

    private static void requireAvailable() {
        Throwable cause = JunixsocketUnixTransport.cause();
        if (cause != null) {
            throw new IllegalStateException(
                    "junixsocket is not available, and Unix datagrams need it: " + cause, cause);
        }
    }

    @Override
    public String toString() {
        return id();
    }
}
