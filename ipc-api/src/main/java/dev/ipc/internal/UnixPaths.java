package dev.ipc.internal;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Locale;
import java.util.OptionalLong;

/** Facts about Unix socket paths and this process's identity, shared by the API and the Unix backends. */
public final class UnixPaths {

    /**
     * The longest socket path, in bytes: {@code sun_path} holds 108 bytes on Linux and 104 on the BSDs and macOS,
     * including the terminating NUL.
     */
    public static final int MAX_PATH_BYTES = isBsdLike() ? 103 : 107;

    private static final OptionalLong OWN_UID = readOwnUid();
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int S_IFIFO = 0010000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFBLK = 0060000;

    private UnixPaths() {}

    private static boolean isBsdLike() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        return os.contains("mac") || os.contains("bsd") || os.contains("darwin");
    }

    /** The length of {@code path} in bytes, as the kernel will see it. */
    public static int byteLength(Path path) {
        return path.toString().getBytes(nativeCharset()).length;
    }

    private static Charset nativeCharset() {
        String name = System.getProperty("sun.jnu.encoding");
        try {
            return name == null ? Charset.defaultCharset() : Charset.forName(name);
        } catch (IllegalArgumentException e) {
            return Charset.defaultCharset();
        }
    }

    /**
     * Why {@code path} can't be a socket path, if it is over the limit: its length and the limit, for the start of a
     * message; null if it fits.
     */
    public static String tooLong(Path path) {
        int bytes = byteLength(path);
        if (bytes <= MAX_PATH_BYTES) {
            return null;
        }
        return "socket path " + path + " is " + bytes + " bytes long, and the limit on this platform is at most "
                + MAX_PATH_BYTES + " bytes (sun_path holds " + (MAX_PATH_BYTES + 1) + " with the terminating NUL)";
    }

    /**
     * What is at {@code path}, not following a symbolic link: "a socket file", "a directory", "a regular file", "a
     * symbolic link", "a FIFO (named pipe)", "a character device", "a block device", "a special file" or "a file"
     * (unreadable); null if nothing is.
     */
    public static String whatIsAt(Path path) {
        try {
            BasicFileAttributes attributes =
                    Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (attributes.isDirectory()) {
                return "a directory";
            }
            if (attributes.isSymbolicLink()) {
                return "a symbolic link";
            }
            if (attributes.isRegularFile()) {
                return "a regular file";
            }
            return special(path);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | UnsupportedOperationException e) {
            return "a file";
        }
    }

    /** What kind of special file is at {@code path}: a socket, a FIFO, a device. */
    private static String special(Path path) {
        int type;
        try {
            Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if (!(mode instanceof Integer)) {
                return "a special file";
            }
            type = ((Integer) mode) & S_IFMT;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "a special file";
        }
        switch (type) {
            case S_IFSOCK:
                return "a socket file";
            case S_IFIFO:
                return "a FIFO (named pipe)";
            case S_IFCHR:
                return "a character device";
            case S_IFBLK:
                return "a block device";
            default:
                return "a special file";
        }
    }

    /** This process's uid, where {@code /proc/self} shows it. */
    public static OptionalLong ownUid() {
        return OWN_UID;
    }

    private static OptionalLong readOwnUid() {
        return ownerUid(Path.of("/proc", String.valueOf(ProcessHandle.current().pid()))); // /proc/self is a link
    }

    /** The uid that owns {@code path} (not following a symbolic link), where the file system tells. */
    public static OptionalLong ownerUid(Path path) {
        try {
            Object uid = Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            return uid instanceof Number ? OptionalLong.of(((Number) uid).longValue()) : OptionalLong.empty();
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return OptionalLong.empty();
        }
    }
}
