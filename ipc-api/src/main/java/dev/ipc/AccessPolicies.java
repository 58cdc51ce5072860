package dev.ipc;

import dev.ipc.internal.UnixPaths;
import java.util.OptionalLong;
import java.util.function.Predicate;

/** The built-in {@link AccessPolicy} implementations, and this process's own identity. */
final class AccessPolicies {
    static final AccessPolicy ANYONE = new Described("anyone", false, peer -> true);
    static final AccessPolicy SAME_USER = new Described("same user", false, AccessPolicies::isSameUser);

    private static final OptionalLong OWN_UID = UnixPaths.ownUid();
    private static final String OWN_USER = System.getProperty("user.name");

    private AccessPolicies() {}

    private static boolean isSameUser(PeerCredentials peer) {
        if (peer.uid().isPresent() && OWN_UID.isPresent()) {
            return peer.uid().getAsLong() == OWN_UID.getAsLong();
        }
        return peer.user().isPresent() && peer.user().get().equals(OWN_USER);
    }

    /** A policy with a description for logs. */
    static final class Described implements AccessPolicy {
        private final String description;
        private final boolean needsNumericIds;
        private final Predicate<PeerCredentials> test;

        Described(String description, boolean needsNumericIds, Predicate<PeerCredentials> test) {
            this.description = description;
            this.needsNumericIds = needsNumericIds;
            this.test = test;
        }

        @Override
        public boolean permits(PeerCredentials peer) {
            return test.test(peer);
        }

        @Override
        public boolean needsNumericIds() {
            return needsNumericIds;
        }

        @Override
        public String toString() {
            return description;
        }
    }
}
