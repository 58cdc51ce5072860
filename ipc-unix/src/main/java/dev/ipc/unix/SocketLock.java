package dev.ipc.unix;

import dev.ipc.Endpoint;
import dev.ipc.internal.Closer;
import dev.ipc.internal.UnixPaths;
import java.io.IOException;
import java.net.BindException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The lock file beside a socket file ({@code app.sock.lock}), held for as long as the listener lives.
 *
 * <p>It serialises the check for a stale socket file and its removal, so two daemons that start at once can't both win,
 * and tells a second starter that a live one owns the path. The kernel releases the lock when its process dies, so a
 * crashed daemon leaves no lock behind, only a file.
 */
final class SocketLock {

    private static final int ATTEMPTS = 10;

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;
    private final Object identity;

    private SocketLock(Path path, FileChannel channel, FileLock lock, Object identity) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
        this.identity = identity;
    }

    /** The lock file's path for a socket file. */
    static Path pathFor(Path socketFile) {
        return socketFile.resolveSibling(socketFile.getFileName() + ".lock");
    }

    /**
     * Takes the lock without waiting.
     *
     * @throws BindException if another process (or another listener in this one) holds it
     */
    static SocketLock acquire(Endpoint endpoint, Path path) throws IOException {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            FileChannel channel;
            try {
                // Not through a symbolic link (O_NOFOLLOW), and for reading too: opening a FIFO for writing alone
                // would wait for a reader forever, for reading and writing it returns at once, and is refused below.
                channel = FileChannel.open(
                        path,
                        Set.of(
                                StandardOpenOption.CREATE,
                                StandardOpenOption.READ,
                                StandardOpenOption.WRITE,
                                LinkOption.NOFOLLOW_LINKS),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (IOException e) { // ELOOP comes as a plain IOException
                if (Files.isSymbolicLink(path)) {
                    throw new BindException("cannot listen on " + endpoint + ": the lock file " + path + " is a "
                            + "symbolic link (to " + Files.readSymbolicLink(path) + "); a lock file is never followed "
                            + "anywhere: remove the link, and check who can write to " + path.getParent());
                }
                throw e;
            }
            try {
                BasicFileAttributes attributes =
                        Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!attributes.isRegularFile()) {
                    throw new BindException("cannot listen on " + endpoint + ": the lock file " + path + " is "
                            + UnixPaths.whatIsAt(path) + ", not a regular file: remove it, and check who can write to "
                            + path.getParent());
                }
                Object opened = attributes.fileKey();
                FileLock lock;
                try {
                    lock = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null; // held by another listener in this JVM
                }
                if (lock == null) {
                    throw new BindException("cannot listen on " + endpoint + ": another process is listening there "
                            + "or starting to (it holds the lock file " + path + ")");
                }
                // A listener that just shut down removes the file; a lock on a removed file guards nothing.
                if (opened != null && opened.equals(identity(path))) {
                    return new SocketLock(path, channel, lock, opened);
                }
                lock.release();
                channel.close();
            } catch (IOException | RuntimeException e) {
                Closer.closeQuietly(channel, e);
                throw e;
            }
        }
        throw new BindException(
                "cannot listen on " + endpoint + ": the lock file " + path + " kept being replaced while locking it");
    }

    private static Object identity(Path path) throws IOException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .fileKey();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Removes the lock file if it is still this one, then releases the lock; idempotent. */
    void release() throws IOException {
        if (!channel.isOpen()) {
            return;
        }
        Closer closer = new Closer();
        closer.run(() -> {
            if (identity.equals(identity(path))) {
                Files.delete(path);
            }
        });
        closer.run(lock::release).close(channel).rethrow();
    }
}
