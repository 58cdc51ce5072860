package dev.ipc.internal;

import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.PeerCredentials;
import dev.ipc.UnexpectedServerException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

/**
 * A Unix client's check of who listens ({@link ConnectionOptions#EXPECT_SERVER}), on the credentials the kernel gives
 * for the listener, before anything is sent. The default, {@code auto}, admits this user, root, and the owner of the
 * socket file's directory when every directory above it belongs to root and is writable by nobody else (a service user
 * under {@code /run/NAME/}), so a path under {@code /tmp} or another user's directory answered by that user is refused.
 */
public final class ServerIdentity {

    private static final Set<PosixFilePermission> OTHERS_WRITE =
            Set.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);

    /** A user the client accepts: by uid, by name, or both. */
    private record Who(OptionalLong uid, String name, String why) {
        boolean is(PeerCredentials peer) {
            // One backend gives uids, the other names: compare uids, looking a name's up where one side has only that.
            OptionalLong peerUid =
                    peer.uid().isPresent() ? peer.uid() : uidOf(peer.user().orElse(null));
            OptionalLong ownUid = uid.isPresent() ? uid : uidOf(name);
            if (peerUid.isPresent() && ownUid.isPresent()) {
                return peerUid.getAsLong() == ownUid.getAsLong();
            }
            return name != null && peer.user().map(name::equals).orElse(false);
        }
    }

    private ServerIdentity() {}

    /**
     * Checks the listener {@code peer} of a connection to {@code endpoint} against {@code expectation}.
     *
     * @throws UnexpectedServerException naming the listener's user and whom the client expected
     */
    public static void check(Endpoint endpoint, PeerCredentials peer, String expectation)
            throws UnexpectedServerException {
        if (expectation.equals("any")) {
            return;
        }
        if (peer.uid().isEmpty() && peer.user().isEmpty()) {
            return; // the transport tells nothing of who listens: nothing to check against
        }
        List<Who> expected = expected(expectation);
        for (Who who : expected) {
            if (who.is(peer)) {
                return;
            }
        }
        // Looked up only when the cheap ones fail: a walk up the directories and an account lookup cost more than
        // the connect itself.
        if (expectation.equals("auto") && endpoint.path().isPresent()) {
            Who owner = trustedDirectoryOwner(endpoint.path().get());
            if (owner != null) {
                if (owner.is(peer)) {
                    return;
                }
                expected.add(owner);
            }
        }
        List<String> whys = new ArrayList<>();
        for (Who who : expected) {
            whys.add(who.why());
        }
        throw new UnexpectedServerException("the listener on " + endpoint.withoutParameters() + " runs as "
                + describe(peer) + ", whom this client does not expect (expectServer=" + expectation + ": "
                + String.join(", ", whys) + "); another user may have taken the path first. If it is the server "
                + "you mean, say so: expectServer=uid:N or user:NAME");
    }

    private static List<Who> expected(String expectation) {
        List<Who> expected = new ArrayList<>();
        Who self = new Who(UnixPaths.ownUid(), System.getProperty("user.name"), "this user");
        Who root = new Who(OptionalLong.of(0), "root", "root");
        if (expectation.equals("same-user") || expectation.equals("auto")) {
            expected.add(self);
        }
        if (expectation.equals("root") || expectation.equals("auto")) {
            expected.add(root);
        }
        if (expectation.startsWith("uid:")) {
            long uid = Long.parseLong(expectation.substring(4));
            expected.add(new Who(OptionalLong.of(uid), null, "uid " + uid));
        }
        if (expectation.startsWith("user:")) {
            String name = expectation.substring(5);
            expected.add(new Who(OptionalLong.empty(), name, "user " + name));
        }
        return expected;
    }

    /**
     * The owner of the socket file's directory, if every directory above it belongs to root and is writable by no one
     * else, so that only root could have given it to that owner; null otherwise.
     */
    private static Who trustedDirectoryOwner(Path socket) {
        try {
            Path directory = socket.toAbsolutePath().getParent().toRealPath();
            for (Path above = directory.getParent(); above != null; above = above.getParent()) {
                if (!ownedByRoot(above) || writableByOthers(above)) {
                    return null;
                }
            }
            String name = Files.getOwner(directory, LinkOption.NOFOLLOW_LINKS).getName();
            return new Who(
                    UnixPaths.ownerUid(directory),
                    name,
                    "the owner of " + directory + " (" + name + "), which only root could have made it");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static boolean ownedByRoot(Path directory) {
        OptionalLong uid = UnixPaths.ownerUid(directory);
        return uid.isPresent() && uid.getAsLong() == 0;
    }

    private static boolean writableByOthers(Path directory) throws IOException {
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS);
        for (PosixFilePermission permission : OTHERS_WRITE) {
            if (permissions.contains(permission)) {
                return true;
            }
        }
        return false;
    }

    static OptionalLong uidOf(String name) {
        return Accounts.uidOf(name);
    }

    private static String describe(PeerCredentials peer) {
        StringBuilder out = new StringBuilder();
        peer.uid().ifPresent(uid -> out.append("uid ").append(uid));
        peer.user()
                .ifPresent(user -> out.append(out.length() == 0 ? "" : " ")
                        .append("(")
                        .append(user)
                        .append(")"));
        peer.pid().ifPresent(pid -> out.append(", pid ").append(pid));
        return out.toString();
    }
}
