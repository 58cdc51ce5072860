package dev.ipc.internal;

import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connections of one listener that have not finished their handshake, bounded so that peers who connect and say
 * nothing cannot crowd out those who finish: at most {@link ConnectionOptions#MAX_HANDSHAKES} at once, and
 * {@link ConnectionOptions#MAX_HANDSHAKES_PER_PEER} of one peer. A connection that comes past a limit is taken, and the
 * oldest of its peer (past the peer's limit) or of the peer holding the most (past the total) is pushed out: a peer
 * that floods pushes out its own connections first, and a client that finishes its handshake in time is never waiting
 * behind silent ones.
 *
 * <p>Pushing out runs the slot's action on the thread that admitted the newcomer: it must not block (shut the input so
 * that the connection's own thread says why and ends, or close it).
 */
public final class HandshakeSlots {

    private static final Logger LOG = LoggerFactory.getLogger(HandshakeSlots.class);
    private static final long WARN_EVERY = TimeUnit.MINUTES.toNanos(1);

    private final Endpoint endpoint;
    private final int max;
    private final int maxPerPeer;

    private final Object lock = new Object();
    // Guarded by lock.
    private final Set<Slot> slots = new LinkedHashSet<>(); // oldest first
    private final Map<String, Integer> perPeer = new HashMap<>();
    private long pushedOut;
    private long warnedAt = System.nanoTime() - WARN_EVERY;

    /**
     * The slots of the listener on {@code endpoint}.
     *
     * @param max {@link ConnectionOptions#MAX_HANDSHAKES}
     * @param maxPerPeer {@link ConnectionOptions#MAX_HANDSHAKES_PER_PEER}, 0 for none of its own
     */
    public HandshakeSlots(Endpoint endpoint, int max, int maxPerPeer) {
        this.endpoint = endpoint;
        this.max = max;
        this.maxPerPeer = maxPerPeer;
    }

    /** The slot of one connection, from its acceptance until its handshake finished, failed or was pushed out. */
    public final class Slot {
        private final String peer;
        private final Runnable pushOut;
        private boolean held = true; // guarded by lock

        private Slot(String peer, Runnable pushOut) {
            this.peer = peer;
            this.pushOut = pushOut;
        }

        /**
         * Frees the slot: the handshake finished or failed.
         *
         * @return false if the connection was pushed out first: its push-out action runs or has run, and the connection
         *     must end, not go on
         */
        public boolean release() {
            synchronized (lock) {
                if (!held) {
                    return false;
                }
                remove(this);
                return true;
            }
        }
    }

    /**
     * Takes a slot for a new connection of {@code peer} (see {@link #peerOf}); pushes out an older connection if a
     * limit is reached.
     *
     * @param pushOut what ends the connection if it is pushed out; it must not block
     */
    public Slot admit(String peer, Runnable pushOut) {
        Slot slot = new Slot(peer, pushOut);
        Slot victim = null;
        boolean warn = false;
        long total;
        synchronized (lock) {
            int own = perPeer.getOrDefault(peer, 0);
            if (maxPerPeer > 0 && own >= maxPerPeer) {
                victim = oldestOf(peer);
            } else if (slots.size() >= max) {
                victim = oldestOf(heaviest());
            }
            if (victim != null) {
                remove(victim);
                pushedOut++;
                long now = System.nanoTime();
                if (now - warnedAt >= WARN_EVERY) {
                    warnedAt = now;
                    warn = true;
                }
            }
            total = pushedOut;
            slots.add(slot);
            perPeer.merge(peer, 1, Integer::sum);
        }
        if (victim != null) {
            if (warn) {
                LOG.warn(
                        "{} connections on {} were pushed out before finishing their handshake, the last of {}: "
                                + "connections arrive faster than they finish (maxHandshakes {}, "
                                + "maxHandshakesPerPeer {}); a peer may be connecting and saying nothing",
                        total,
                        endpoint,
                        victim.peer,
                        max,
                        maxPerPeer);
            } else {
                LOG.debug(
                        "pushed out a connection of {} on {} that had not finished its handshake",
                        victim.peer,
                        endpoint);
            }
            victim.pushOut.run();
        }
        return slot;
    }

    /** The message for a connection pushed out, in its ERROR where it can have one. */
    public String pushedOutMessage() {
        return "the connection had not finished its handshake when newer ones arrived past the limit of "
                + (maxPerPeer > 0 ? maxPerPeer + " per peer or " : "") + max
                + " unfinished connections (maxHandshakes); it was the oldest of the peer holding the most";
    }

    /**
     * Whom a connection counts against: its uid or user where the transport says, else its address without the port;
     * every loopback address is one peer, since any local user may bind any of 127.0.0.0/8 and so change its address at
     * will.
     */
    public static String peerOf(FramedConnection connection) {
        var credentials = connection.peer();
        if (credentials.uid().isPresent()) {
            return "uid " + credentials.uid().getAsLong();
        }
        if (credentials.user().isPresent()) {
            return "user " + credentials.user().get();
        }
        String remote = connection.remote();
        int colon = remote.lastIndexOf(':');
        String address = colon > 0 ? remote.substring(0, colon) : remote;
        if (address.startsWith("127.") || address.equals("0:0:0:0:0:0:0:1") || address.equals("::1")) {
            return "address loopback (127.0.0.0/8, ::1)";
        }
        return "address " + address;
    }

    private Slot oldestOf(String peer) {
        for (Slot slot : slots) {
            if (slot.peer.equals(peer)) {
                return slot;
            }
        }
        return null;
    }

    private String heaviest() {
        String heaviest = null;
        int most = 0;
        for (Map.Entry<String, Integer> entry : perPeer.entrySet()) {
            if (entry.getValue() > most) {
                most = entry.getValue();
                heaviest = entry.getKey();
            }
        }
        return heaviest;
    }

    private void remove(Slot slot) {
        slot.held = false;
        slots.remove(slot);
        perPeer.computeIfPresent(slot.peer, (key, count) -> count == 1 ? null : count - 1);
    }

    /** How many connections hold a slot now. */
    public int size() {
        synchronized (lock) {
            return slots.size();
        }
    }
}
