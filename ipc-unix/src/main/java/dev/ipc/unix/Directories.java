package dev.ipc.unix;

import dev.ipc.Endpoint;
import dev.ipc.internal.UnixPaths;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.security.SecureRandom;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;

/** The directory a socket file lives in: created private, checked for safety, and the private bind directory. */
final class Directories {

    private static final int STICKY = 01000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Directories() {}

    /**
     * Creates {@code directory} (and missing parents) with mode 0700 if it is missing, then refuses it if another user
     * could replace the socket file in it, or the directory itself, or any directory above it.
     *
     * <p>The directory must not be a symbolic link. It and every directory above it, up to the root, as written and as
     * the links in it resolve, must be owned by this process's user or by root, and must not be writable by others
     * unless it has the sticky bit (as {@code /tmp} has): whoever may write to a directory may rename what is in it and
     * put their own in its place.
     *
     * @throws AccessDeniedException naming the directory and the check that failed
     */
    static void prepare(Endpoint endpoint, Path directory) throws IOException {
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(permissions(0700)));
            } catch (FileAlreadyExistsException e) {
                // Another starter made it meanwhile: it is checked below like any other.
            }
        }
        if (Files.isSymbolicLink(directory)) {
            throw refused(
                    endpoint,
                    directory,
                    "it is a symbolic link (give the real path; a link can be "
                            + "pointed elsewhere by whoever owns it)");
        }
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) {
            throw refused(endpoint, directory, "it is not a directory");
        }
        Path absolute = directory.toAbsolutePath();
        checkChain(endpoint, absolute, absolute);
        Path real = absolute.toRealPath();
        if (!real.equals(absolute)) {
            checkChain(endpoint, absolute, real); // a link above it (as /var/run is): where it leads is checked too
        }
    }

    private static void checkChain(Endpoint endpoint, Path socketDirectory, Path start) throws IOException {
        long self = UnixPaths.ownUid().orElse(-1);
        for (Path path = start; path != null; path = path.getParent()) {
            String which = path.equals(socketDirectory) ? "it" : path + ", above it,";
            long owner = ((Number) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
            if (owner != self && owner != 0 && self != -1) {
                throw refused(
                        endpoint,
                        path,
                        which + " is owned by uid " + owner + ", not by this user (uid " + self
                                + ") or root, so its owner could replace the socket file");
            }
            if (Files.isSymbolicLink(path)) {
                continue; // a link's own mode means nothing; who may replace it is its parent's business
            }
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((mode & 0002) != 0 && (mode & STICKY) == 0) {
                throw refused(
                        endpoint,
                        path,
                        which + " may be written by others (mode 0" + Integer.toOctalString(mode & 07777)
                                + ") and has no sticky bit, so anyone could replace the socket file");
            }
        }
    }

    private static AccessDeniedException refused(Endpoint endpoint, Path directory, String why) {
        return new AccessDeniedException(
                directory.toString(), null, "cannot listen on " + endpoint + ": the directory is unsafe: " + why);
    }

    /** A new directory private to this user (0700) inside {@code parent}, with a short random name. */
    static Path createPrivate(Path parent) throws IOException {
        for (int attempt = 0; ; attempt++) {
            byte[] random = new byte[3];
            RANDOM.nextBytes(random);
            Path candidate = parent.resolve(".ipc" + HexFormat.of().formatHex(random));
            try {
                return Files.createDirectory(candidate, PosixFilePermissions.asFileAttribute(permissions(0700)));
            } catch (FileAlreadyExistsException e) {
                if (attempt == 20) {
                    throw e;
                }
            }
        }
    }

    /** The mode bits, such as 0660, of a permission set. */
    static int modeOf(Set<PosixFilePermission> permissions) {
        int mode = 0;
        PosixFilePermission[] bits = PosixFilePermission.values();
        for (int i = 0; i < bits.length; i++) {
            if (permissions.contains(bits[i])) {
                mode |= 0400 >> i;
            }
        }
        return mode;
    }

    /** The permission set for mode bits such as 0660. */
    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = PosixFilePermission.values(); // OWNER_READ (0400) ... OTHERS_EXECUTE (0001)
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (0400 >> i)) != 0) {
                permissions.add(bits[i]);
            }
        }
        return permissions;
    }

    /** Gives the file to a group, by name. */
    static void setGroup(Endpoint endpoint, Path file, String group) throws IOException {
        GroupPrincipal principal;
        try {
            principal = file.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
        } catch (UserPrincipalNotFoundException e) {
            throw new IllegalArgumentException(
                    "cannot listen on " + endpoint + ": there is no group named '" + group + "'", e);
        }
        try {
            Files.getFileAttributeView(file, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setGroup(principal);
        } catch (FileSystemException e) {
            FileSystemException named = new FileSystemException(
                    file.toString(),
                    null,
                    "cannot listen on " + endpoint
                            + ": cannot give the socket file to group '" + group + "' (" + e.getReason()
                            + "; the process must belong to that group)");
            named.initCause(e);
            throw named;
        }
    }
}
