package dev.ipc;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions of an {@link IpcServer} and the places they hold: connections past their hello against
 * {@link ServerOptions#MAX_CONNECTIONS} and {@link ServerOptions#MAX_CONNECTIONS_PER_PEER}, choosing which idle one
 * gives way to a newcomer; and requests that may answer with a stream against
 * {@link ServerOptions#MAX_STREAMS_PER_PEER}. A peer is {@code HandshakeSlots.peerOf}'s: a uid, a user, or a TCP
 * address.
 */
final class Places {

    private static final Logger LOG = LoggerFactory.getLogger(Places.class);
    /** How long a connection has been silent, nothing in flight, before it may give way to a newer one. */
    static final long IDLE_BEFORE_GIVING_WAY_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final ServerLimits limits;
    private final String endpoint;
    /** Every session, before and past its hello. */
    final Set<ServerSession> sessions = ConcurrentHashMap.newKeySet();

    private final AtomicInteger established = new AtomicInteger(); // sessions past the hello
    private final Map<String, AtomicInteger> perPeer = new ConcurrentHashMap<>(); // past the hello, per peer
    private final Map<String, AtomicInteger> streamsPerPeer = new ConcurrentHashMap<>(); // in flight, per peer
    // Guarded by this.
    private long gaveWay; // idle connections that gave way since the last warning
    private long gaveWayWarned = System.nanoTime() - TimeUnit.MINUTES.toNanos(2);

    Places(ServerLimits limits, String endpoint) {
        this.limits = limits;
        this.endpoint = endpoint;
    }

    /** How many sessions are past their hello. */
    int established() {
        return established.get();
    }

    /** Why a connection of {@code peer} would be over a limit now; null if it is not. */
    String full(String peer) {
        if (established.get() >= limits.maxConnections) {
            return "the server holds its maximum of " + limits.maxConnections + " connections";
        }
        if (limits.maxConnectionsPerPeer > 0) {
            AtomicInteger count = perPeer.get(peer);
            if (count != null && count.get() >= limits.maxConnectionsPerPeer) {
                return "peer " + peer + " holds its maximum of " + limits.maxConnectionsPerPeer + " connections";
            }
        }
        return null;
    }

    /** Whether a connection of {@code peer} past a limit could have a place once it says its hello. */
    synchronized boolean anyIdleFor(String peer) {
        return longestIdle(peer) != null;
    }

    /**
     * Counts {@code session}, past its hello, against maxConnections and its peer's, an idle connection giving way
     * where a limit is reached (of this peer, past its own limit; of the peer holding the most, past the total), so
     * that a crowd of silent connections can't keep a newcomer out. Why not, if no place could be had.
     */
    synchronized String take(ServerSession session) {
        String full = full(session.peer);
        if (full != null) {
            ServerSession idle = longestIdle(session.peer);
            if (idle == null) {
                return full;
            }
            giveWay(idle, session.peer, full);
            full = full(session.peer); // a connection of this peer may still be over both limits
            if (full != null) {
                return full;
            }
        }
        established.incrementAndGet();
        perPeer.computeIfAbsent(session.peer, key -> new AtomicInteger()).incrementAndGet();
        session.counted = true;
        return null;
    }

    /** Gives back the session's place, if it holds one; whether it did. */
    synchronized boolean giveBack(ServerSession session) {
        if (!session.counted) {
            return false;
        }
        session.counted = false;
        established.decrementAndGet();
        perPeer.computeIfPresent(session.peer, (key, count) -> count.decrementAndGet() == 0 ? null : count);
        return true;
    }

    private void giveWay(ServerSession idle, String newcomer, String full) {
        boolean ownLimit = established.get() < limits.maxConnections;
        long idleMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - idle.lastActivity());
        String why = "this connection gave way to a newer one: it was idle the longest (" + idleMillis + " ms) of "
                + (ownLimit
                        ? idle.peer + ", which holds its maximum of " + limits.maxConnectionsPerPeer
                                + " connections (maxConnectionsPerPeer)"
                        : "the peer holding the most connections, at the server's maximum of " + limits.maxConnections
                                + " (maxConnections)");
        idle.giveWay(why);
        gaveWay++;
        long now = System.nanoTime();
        if (now - gaveWayWarned > TimeUnit.MINUTES.toNanos(1)) {
            LOG.warn(
                    "{} idle connections on {} gave way to newer ones, the last for {}: {}; raise maxConnections or "
                            + "maxConnectionsPerPeer if so many clients are meant to stay connected",
                    gaveWay,
                    endpoint,
                    newcomer,
                    full);
            gaveWay = 0;
            gaveWayWarned = now;
        }
    }

    /**
     * The session idle the longest that could give way to a connection of {@code peer}: of that peer if it is past its
     * own limit only, else of the peer holding the most connections among those with an idle one; null if none is.
     */
    private ServerSession longestIdle(String peer) {
        String only = established.get() < limits.maxConnections ? peer : null;
        long now = System.nanoTime();
        ServerSession chosen = null;
        int chosenWeight = -1;
        for (ServerSession session : sessions) {
            if ((only != null && !only.equals(session.peer)) || !session.idleSince(now)) {
                continue;
            }
            AtomicInteger held = perPeer.get(session.peer);
            int weight = only != null || held == null ? 0 : held.get();
            if (weight > chosenWeight
                    || (weight == chosenWeight && session.lastActivity() - chosen.lastActivity() < 0)) {
                chosen = session;
                chosenWeight = weight;
            }
        }
        return chosen;
    }

    /** Why {@code peer} may not have another request that may answer with a stream, or null (then it has it). */
    String takeStream(String peer) {
        boolean[] full = new boolean[1];
        streamsPerPeer.compute(peer, (key, count) -> {
            AtomicInteger held = count == null ? new AtomicInteger() : count;
            full[0] = limits.maxStreamsPerPeer > 0 && held.get() >= limits.maxStreamsPerPeer;
            if (!full[0]) {
                held.incrementAndGet();
            }
            return held;
        });
        return full[0]
                ? peer + " has its maximum of " + limits.maxStreamsPerPeer + " requests that may answer with a stream "
                        + "in flight, over all its connections (maxStreamsPerPeer)"
                : null;
    }

    /** A request of {@code peer} that may answer with a stream is answered. */
    void giveBackStream(String peer) {
        streamsPerPeer.computeIfPresent(peer, (key, count) -> count.decrementAndGet() == 0 ? null : count);
    }
}
