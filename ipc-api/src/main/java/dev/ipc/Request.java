package dev.ipc;

import java.util.Objects;

/**
 * One request as an {@link IpcServer}'s handler sees it: its payload, who sent it, and its id.
 *
 * <p>{@link #peer()} holds what the transport proved about the caller: uid, gid and pid on a socket file with the
 * junixsocket backend (and on systemd's sockets); the user and group names, with their uid and gid as the account files
 * ({@code /etc/passwd}, {@code /etc/group}) give them, with the JDK's backend; the certificate's subject over TLS with
 * client certificates; nothing over plain TCP. A handler that authorises by uid should state the backend (or rely on
 * the account files) and refuse a caller whose uid is unknown:
 *
 * <pre>{@code
 * IpcServer.builder(endpoint)
 *         .requestHandler(request -> {
 *             if (request.peer().uid().orElse(-1) != 0) {
 *                 throw new ApplicationException(1403, "only root may set the status");
 *             }
 *             return set(request.payload());
 *         })
 * }</pre>
 */
public final class Request {

    private final byte[] payload;
    private final PeerCredentials peer;
    private final int id;

    /** A request; the server makes them, tests may too. */
    public Request(byte[] payload, PeerCredentials peer, int id) {
        this.payload = Objects.requireNonNull(payload, "payload");
        this.peer = Objects.requireNonNull(peer, "peer");
        this.id = id;
    }

    /** The request's bytes (the array itself: the handler owns it). */
    public byte[] payload() {
        return payload;
    }

    /** Who sent it, as far as the transport tells. */
    public PeerCredentials peer() {
        return peer;
    }

    /** Its id on its connection, as the client numbered it (for logs). */
    public int id() {
        return id;
    }

    @Override
    public String toString() {
        return "Request[id " + id + ", " + payload.length + " bytes, from " + peer + "]";
    }
}
