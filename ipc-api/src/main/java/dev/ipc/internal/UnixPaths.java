package dev.ipc.internal;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /** This process's uid, where {@code /proc/self} shows it. */
    public static OptionalLong ownUid() {
        return OWN_UID;
    }

    private static OptionalLong readOwnUid() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return uid instanceof Number ? OptionalLong.of(((Number) uid).longValue()) : OptionalLong.empty();
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return OptionalLong.empty();
        }
    }
}
