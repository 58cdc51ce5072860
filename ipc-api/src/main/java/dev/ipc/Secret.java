package dev.ipc;

import dev.ipc.internal.UnixPaths;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Where a secret comes from: a file or an environment variable, read when it is needed.
 *
 * <p>A secret is never written in an endpoint string, only where to find it ({@code secretFile=/etc/app/secret},
 * {@code secretEnv=APP_SECRET}). {@link #toString()} names the source, never the value. A file's trailing line break is
 * not part of the secret, so {@code head -c 32 /dev/urandom | base64 > secret} gives a usable file.
 */
public final class Secret {

    private final Path file;
    private final String variable;
    private final byte[] value;

    private Secret(Path file, String variable, byte[] value) {
        this.file = file;
        this.variable = variable;
        this.value = value;
    }

    /**
     * The contents of {@code file} (followed if it is a symbolic link), which must belong to this user or root and not
     * be readable or writable by others than its owner and group (mode {@code 0600} or {@code 0640}, as ssh asks of its
     * keys).
     */
    public static Secret fromFile(Path file) {
        return new Secret(Objects.requireNonNull(file, "file"), null, null);
    }

    /** The value of the environment variable {@code name}. */
    public static Secret fromEnv(String name) {
        Objects.requireNonNull(name, "name");
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException(
                    "an environment variable name is letters, digits and '_', was '" + name + "'");
        }
        return new Secret(null, name, null);
    }

    /** A secret held by the program itself (from its own vault, say); the array is copied. */
    public static Secret of(byte[] value) {
        Objects.requireNonNull(value, "value");
        return new Secret(null, null, value.clone());
    }

    /**
     * Reads the secret's bytes.
     *
     * @throws IOException naming the file or variable if it is missing, empty, or a file open to others
     */
    public byte[] read() throws IOException {
        byte[] bytes;
        if (value != null) {
            bytes = value.clone();
        } else if (variable != null) {
            String text = System.getenv(variable);
            if (text == null) {
                throw new IOException("the secret's environment variable " + variable + " is not set");
            }
            bytes = text.getBytes(StandardCharsets.UTF_8);
        } else {
            bytes = readFile();
        }
        int length = bytes.length;
        while (length > 0 && (bytes[length - 1] == '\n' || bytes[length - 1] == '\r')) {
            length--;
        }
        if (length == 0) {
            throw new IOException(this + " is empty");
        }
        return length == bytes.length ? bytes : Arrays.copyOf(bytes, length);
    }

    /**
     * Reads the file, through a symbolic link if it is one (orchestrators mount secrets that way), after checking the
     * file itself: owned by this user or root, and not readable or writable by others, nor writable by its group.
     */
    private byte[] readFile() throws IOException {
        Path real;
        try {
            real = file.toRealPath();
        } catch (NoSuchFileException e) {
            throw new IOException(
                    "the secret file " + file + " does not exist"
                            + (Files.isSymbolicLink(file)
                                    ? " (it is a symbolic link to nothing: " + e.getFile() + ")"
                                    : ""),
                    e);
        }
        String named = real.equals(file) ? "the secret file " + file : "the secret file " + file + " (" + real + ")";
        try {
            if (!Files.isRegularFile(real)) {
                throw new IOException(named + " is not a regular file");
            }
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(real);
            if (permissions.contains(PosixFilePermission.OTHERS_READ)
                    || permissions.contains(PosixFilePermission.OTHERS_WRITE)
                    || permissions.contains(PosixFilePermission.GROUP_WRITE)) {
                throw new IOException(named + " is open to other users (" + mode(permissions) + "); make it private "
                        + "with: chmod 600 " + real);
            }
            OptionalLong own = UnixPaths.ownUid();
            OptionalLong owner = UnixPaths.ownerUid(real);
            if (own.isPresent() && owner.isPresent()) {
                long uid = owner.getAsLong();
                if (uid != own.getAsLong() && uid != 0) {
                    throw new IOException(named + " belongs to uid " + uid + ", neither this user (uid "
                            + own.getAsLong() + ") nor root: another user could change it; use a file of your own "
                            + "or root's");
                }
            }
            return Files.readAllBytes(real);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return Files.readAllBytes(real); // no POSIX attributes here to check
        }
    }

    private static String mode(Set<PosixFilePermission> permissions) {
        int bits = 0;
        for (PosixFilePermission permission : permissions) {
            bits |= 1 << (8 - permission.ordinal());
        }
        return "mode 0" + Integer.toOctalString(bits);
    }

    /** The file, if the secret comes from one. */
    public Optional<Path> file() {
        return Optional.ofNullable(file);
    }

    /** The environment variable, if the secret comes from one. */
    public Optional<String> variable() {
        return Optional.ofNullable(variable);
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof Secret)) {
            return false;
        }
        Secret that = (Secret) other;
        return Objects.equals(file, that.file)
                && Objects.equals(variable, that.variable)
                && Arrays.equals(value, that.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(file, variable, Arrays.hashCode(value));
    }

    /** The source, never the value: {@code secret file /etc/app/secret}, {@code secret from $APP_SECRET}. */
    @Override
    public String toString() {
        return file != null
                ? "the secret file " + file
                : variable != null ? "the secret in $" + variable : "the secret given by the program";
    }
}
