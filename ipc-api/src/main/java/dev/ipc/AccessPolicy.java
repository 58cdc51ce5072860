package dev.ipc;

import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * Who may connect to a listener: checked on every accepted connection, before a byte is read from it or it reaches
 * {@link Listener#accept()}'s caller.
 *
 * <p>A refused peer's connection is closed and logged at info level with its uid and pid (or its certificate subject).
 * Unix listeners default to {@link #sameUser()}; TCP and TLS listeners to {@link #anyone()}, since TCP tells nothing of
 * the peer: require a shared secret ({@link ConnectionOptions#SECRET}) or client certificates
 * ({@link TlsOptions.ClientAuth#REQUIRED}) there. Over TLS the policy runs after the handshake, on the certificate's
 * subject.
 *
 * <p>Implementations must be thread-safe and fast: they run on the accepting thread.
 */
public interface AccessPolicy {

    /** Whether the peer may connect. */
    boolean permits(PeerCredentials peer);

    /**
     * Whether this policy reads numeric ids (uid, gid, pid), which only some backends give; a Unix endpoint under such
     * a policy is served by a backend that has them.
     */
    default boolean needsNumericIds() {
        return false;
    }

    /** Peers running as this process's user (by uid where the backend gives it, else by user name). */
    static AccessPolicy sameUser() {
        return AccessPolicies.SAME_USER;
    }

    /** Every peer; for a socket whose file mode (or network) already decides who may connect. */
    static AccessPolicy anyone() {
        return AccessPolicies.ANYONE;
    }

    /** Peers whose uid is one of {@code uids}. */
    static AccessPolicy uids(long... uids) {
        long[] allowed = uids.clone();
        Arrays.sort(allowed);
        return new AccessPolicies.Described(
                "uid in " + Arrays.toString(allowed),
                true,
                peer -> peer.uid().isPresent()
                        && Arrays.binarySearch(allowed, peer.uid().getAsLong()) >= 0);
    }

    /** Peers whose primary gid is one of {@code gids}. */
    static AccessPolicy gids(long... gids) {
        long[] allowed = gids.clone();
        Arrays.sort(allowed);
        return new AccessPolicies.Described(
                "gid in " + Arrays.toString(allowed),
                true,
                peer -> peer.gid().isPresent()
                        && Arrays.binarySearch(allowed, peer.gid().getAsLong()) >= 0);
    }

    /**
     * Peers whose TLS certificate has one of {@code names} as its common name (CN); for mutual TLS, where the
     * certificate names the client as the uid does on a Unix socket.
     */
    static AccessPolicy commonNames(String... names) {
        Set<String> allowed = Set.of(names.clone());
        return new AccessPolicies.Described(
                "certificate CN in " + new TreeSet<>(allowed),
                false,
                peer -> peer.commonName().map(allowed::contains).orElse(false));
    }

    /**
     * Peers that {@code test} accepts.
     *
     * @param description how the policy is named in logs, such as "members of the ops group"
     * @param needsNumericIds whether {@code test} reads uid, gid or pid (see {@link #needsNumericIds()})
     */
    static AccessPolicy matching(String description, boolean needsNumericIds, Predicate<PeerCredentials> test) {
        return new AccessPolicies.Described(
                Objects.requireNonNull(description, "description"),
                needsNumericIds,
                Objects.requireNonNull(test, "test"));
    }

    /** This policy or {@code other}. */
    default AccessPolicy or(AccessPolicy other) {
        Objects.requireNonNull(other, "other");
        AccessPolicy self = this;
        return new AccessPolicies.Described(
                self + " or " + other,
                self.needsNumericIds() || other.needsNumericIds(),
                peer -> self.permits(peer) || other.permits(peer));
    }
}
