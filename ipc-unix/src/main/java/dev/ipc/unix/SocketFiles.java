package dev.ipc.unix;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.internal.ChannelConnection;
import dev.ipc.internal.ChannelListener;
import dev.ipc.internal.Closer;
import dev.ipc.internal.FramedConnection;
import dev.ipc.internal.FramedListener;
import dev.ipc.internal.HandshakingListener;
import dev.ipc.internal.SecretHandshake;
import dev.ipc.internal.ServerIdentity;
import dev.ipc.internal.UnixPaths;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What both Unix backends do alike: the path-length check, the socket file's lifecycle, connecting with a timeout, and
 * errors that name the path and the cause.
 */
final class SocketFiles {

    private static final Logger LOG = LoggerFactory.getLogger(SocketFiles.class);

    static final int MAX_PATH_BYTES = UnixPaths.MAX_PATH_BYTES;

    private SocketFiles() {}

    /**
     * Fails, before anything is created, if the endpoint's path or abstract name is over the platform's limit.
     *
     * @throws SocketException naming the path, its length in bytes and the limit
     */
    static void checkLength(Endpoint endpoint) throws SocketException {
        if (endpoint.isAbstract()) {
            int bytes = endpoint.abstractName().orElseThrow().getBytes(StandardCharsets.UTF_8).length;
            if (bytes > MAX_PATH_BYTES) {
                throw new SocketException("abstract socket name of " + endpoint + " is " + bytes
                        + " bytes long; the limit on this platform is " + MAX_PATH_BYTES + " bytes");
            }
            return;
        }
        String tooLong = UnixPaths.tooLong(endpoint.path().orElseThrow());
        if (tooLong != null) {
            throw new SocketException(tooLong + ": use a shorter path or a relative one");
        }
    }

    /**
     * Fails if a file is in the way of binding {@code path}; a stale socket file is not yet taken over.
     *
     * @throws BindException naming the path and what is there
     */
    static void refuseExisting(Endpoint endpoint, Path path) throws IOException {
        String what = UnixPaths.whatIsAt(path);
        if (what != null) {
            throw new BindException("cannot listen on " + endpoint + ": " + what + " already exists at " + path
                    + (what.equals("a socket file")
                            ? "; another process may be listening there, or a crashed one left it behind"
                            : "; remove it or choose another path"));
        }
    }

    /**
     * Fails if a socket is already bound to the endpoint's abstract name, as Linux's {@code /proc/net/unix} shows it.
     *
     * <p>Checked before binding because junixsocket, when a bind finds the name taken, connects to the live listener to
     * find out, and that listener would accept an empty connection.
     */
    static void refuseTakenAbstractName(Endpoint endpoint) throws IOException {
        Path table = Path.of("/proc/net/unix");
        if (!Files.isReadable(table)) {
            return;
        }
        String wanted = "@" + endpoint.abstractName().orElseThrow();
        try (Stream<String> lines = Files.lines(table, StandardCharsets.UTF_8)) {
            // Columns: Num RefCount Protocol Flags Type St Inode Path; the path is the rest of the line.
            boolean taken = lines.skip(1)
                    .map(line -> line.trim().split("\\s+", 8))
                    .anyMatch(columns -> columns.length == 8 && columns[7].equals(wanted));
            if (taken) {
                throw new BindException(
                        "cannot listen on " + endpoint + ": another socket is bound to that " + "abstract name");
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** The identity (device and inode) of the file at {@code path}, to recognise it later. */
    static Object identity(Path path) throws IOException {
        Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .fileKey();
        return key == null ? Files.getLastModifiedTime(path, LinkOption.NOFOLLOW_LINKS) : key;
    }

    /**
     * Removes the socket file a listener created, if the file at the path is still that one: a file that another
     * process has since put there is left alone.
     */
    static void removeIfOurs(Path path, Object identity) throws IOException {
        try {
            if (identity.equals(identity(path))) {
                Files.delete(path);
            }
        } catch (NoSuchFileException e) {
            // Already gone: nothing to release.
        }
    }

    /** Maps a failed bind to an exception that names the endpoint and the cause. */
    static IOException bindFailure(Endpoint endpoint, IOException e) {
        if (endpoint.isAbstract()) {
            return withCause(
                    new BindException("cannot listen on " + endpoint + ": "
                            + ("Address already in use".equals(e.getMessage())
                                    ? "another socket is bound to that abstract name"
                                    : e.getMessage())),
                    e);
        }
        Path path = endpoint.path().orElseThrow();
        Path parent = path.toAbsolutePath().getParent();
        String what = UnixPaths.whatIsAt(path);
        if (what != null) {
            return withCause(
                    new BindException(
                            "cannot listen on " + endpoint + ": " + what + " appeared at " + path + " while binding"),
                    e);
        }
        if (parent != null && !Files.isDirectory(parent)) {
            return withCause(
                    new NoSuchFileException(
                            parent.toString(), null, "cannot listen on " + endpoint + ": the directory does not exist"),
                    e);
        }
        if (parent != null && !Files.isWritable(parent)) {
            return withCause(
                    new AccessDeniedException(
                            parent.toString(),
                            null,
                            "cannot listen on " + endpoint + ": this user may not create files in the directory"),
                    e);
        }
        return withCause(new BindException("cannot listen on " + endpoint + ": " + e.getMessage()), e);
    }

    /** Maps a failed connect to an exception that names the endpoint and the likely cause. */
    static IOException connectFailure(Endpoint endpoint, IOException e) {
        if (e instanceof SocketTimeoutException) {
            return e;
        }
        String message = String.valueOf(e.getMessage());
        if (endpoint.isAbstract()) {
            return withCause(
                    new ConnectException("cannot connect to " + endpoint + ": "
                            + (message.contains("refused") ? "nobody listens on that abstract name" : message)),
                    e);
        }
        Path path = endpoint.path().orElseThrow();
        String what = UnixPaths.whatIsAt(path);
        if (what == null) {
            return withCause(
                    new ConnectException("cannot connect to " + endpoint + ": no socket file at " + path
                            + " (is the server running?)"),
                    e);
        }
        if (!what.equals("a socket file")) {
            return withCause(
                    new ConnectException(
                            "cannot connect to " + endpoint + ": " + path + " is " + what + ", not a socket"),
                    e);
        }
        if (message.contains("Permission denied") || message.contains("Operation not permitted")) {
            return withCause(
                    new AccessDeniedException(
                            path.toString(),
                            null,
                            "cannot connect to " + endpoint
                                    + ": permission denied for this user (check the socket file's mode and group)"),
                    e);
        }
        if (message.contains("refused")) {
            return withCause(
                    new ConnectException("cannot connect to " + endpoint + ": connection refused: "
                            + "the socket file exists but no process listens on it (left by a crashed server?)"),
                    e);
        }
        return withCause(new ConnectException("cannot connect to " + endpoint + ": " + message), e);
    }

    private static <T extends IOException> T withCause(T exception, IOException cause) {
        exception.initCause(cause);
        return exception;
    }

    /** Opens an unconnected channel, for {@link #connect}. */
    @FunctionalInterface
    interface ChannelOpener {
        SocketChannel open() throws IOException;
    }

    /**
     * Checks the path length, connects within the connect timeout, and wraps the channel; the channel is closed if
     * wrapping fails.
     */
    static FramedConnection connect(
            Endpoint endpoint,
            ConnectionOptions options,
            ChannelOpener opener,
            SocketAddress address,
            ChannelListener.Acceptor wrapper)
            throws IOException {
        checkLength(endpoint);
        SocketChannel channel = connect(endpoint, opener, address, options.get(ConnectionOptions.CONNECT_TIMEOUT));
        FramedConnection connection;
        try {
            connection = wrapper.wrap(channel);
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
        try {
            // Who listens, before a byte is sent: another user may have taken the path first.
            ServerIdentity.check(endpoint, connection.peer(), options.get(ConnectionOptions.EXPECT_SERVER));
            // Only then is the memory offered: it goes to the server that was expected.
            if (options.get(ConnectionOptions.SHARED_MEMORY) != ConnectionOptions.SharedMemory.OFF
                    && connection instanceof ChannelConnection) {
                ((ChannelConnection) connection).requestSharedMemory(options);
            }
            return connection;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(connection, e);
            throw e;
        }
    }

    /**
     * Connects a new channel to {@code address} within {@code timeout}.
     *
     * <p>A Unix stream connect completes at once or fails; when the listener's backlog is full, Linux fails a
     * non-blocking connect with EAGAIN instead of blocking, so that case is retried, with pauses growing from 100 µs to
     * 50 ms, until the timeout.
     */
    private static SocketChannel connect(
            Endpoint endpoint, ChannelOpener opener, SocketAddress address, Duration timeout) throws IOException {
        long timeoutNanos = timeout.toNanos();
        long deadline = System.nanoTime() + timeoutNanos;
        long pauseNanos = TimeUnit.MICROSECONDS.toNanos(100);
        while (true) {
            SocketChannel channel = opener.open();
            try {
                channel.configureBlocking(false);
                if (channel.connect(address)) {
                    return channel;
                }
                // A Unix stream connect never legitimately goes "in progress": false means the backlog
                // is full (junixsocket reports EAGAIN so, and then claims the connect finished).
                throw new SocketException("Resource temporarily unavailable (the listener's backlog is full)");
            } catch (IOException e) {
                Closer.closeQuietly(channel, e);
                if (!isBacklogFull(e)) {
                    throw connectFailure(endpoint, e);
                }
                long left = deadline - System.nanoTime();
                if (timeoutNanos > 0 && left <= 0) {
                    throw timedOut(endpoint, timeout, "the listener's backlog stayed full");
                }
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("interrupted while connecting to " + endpoint);
                }
                LockSupport.parkNanos(timeoutNanos > 0 ? Math.min(pauseNanos, left) : pauseNanos);
                pauseNanos = Math.min(pauseNanos * 2, TimeUnit.MILLISECONDS.toNanos(50));
            }
        }
    }

    private static boolean isBacklogFull(IOException e) {
        String message = e.getMessage();
        return message != null
                && (message.contains("Resource temporarily unavailable")
                        || message.contains("EAGAIN")
                        || message.contains("would block"));
    }

    private static SocketTimeoutException timedOut(Endpoint endpoint, Duration timeout, String why) {
        return new SocketTimeoutException(
                "connect to " + endpoint + " timed out after connectTimeout " + timeout + ": " + why);
    }

    /** The label of a connection in messages and logs. */
    static String label(Endpoint endpoint, String transportId, String side) {
        return endpoint.withoutParameters() + " (" + transportId + ", " + side + ")";
    }

    /** Opens a channel and binds it, for {@link #listen} and {@link #bindFile}; closes it if binding fails. */
    interface Binder<C extends Channel> {
        /** Binds {@code path}, or the endpoint's abstract name when {@code path} is null. */
        C bind(Path path) throws IOException;

        /**
         * Whether the path the socket was bound at must stay while it lives: junixsocket closes a listener whose bound
         * file has gone, so its private bind directory is kept until close.
         */
        boolean needsBoundPath();
    }

    /** Finds out whether a socket is bound at an existing socket file. */
    @FunctionalInterface
    interface LiveProbe {
        /**
         * Whether a live socket is bound at {@code path}: true if it answers, false if the kernel refuses (a stale
         * file).
         *
         * @throws IOException if it cannot tell
         */
        boolean isLive(Path path) throws IOException;
    }

    /** A channel bound at an endpoint's socket file, and what removes the file, its lock and directory at close. */
    static final class Bound<C extends Channel> {
        final C channel;
        final Closer.Action release;

        Bound(C channel, Closer.Action release) {
            this.channel = channel;
            this.release = release;
        }
    }

    /**
     * Binds a Unix endpoint the way a daemon needs it, and wraps it in a listener.
     *
     * <p>For a socket file: the directory is created private (0700) if missing and refused if unsafe; the lock file
     * beside the socket is taken; a stale socket file is removed, a live listener left alone; the socket is bound
     * inside a fresh private directory, given its mode and group, and only then linked into place, so nobody can
     * connect before its permissions are final. On close, the socket file and the lock file are removed if they are
     * still this listener's.
     *
     * @param prober opens a client channel, to find out whether an existing socket file is live
     */
    static FramedListener listen(
            Endpoint endpoint,
            ConnectionOptions options,
            Binder<ServerSocketChannel> binder,
            ChannelOpener prober,
            ChannelListener.Acceptor acceptor)
            throws IOException {
        checkLength(endpoint);
        if (endpoint.isAbstract()) {
            AccessPolicy policy = options.find(ConnectionOptions.ACCESS)
                    .orElseThrow(() -> new IllegalArgumentException("cannot listen on " + endpoint
                            + ": an abstract-namespace socket has no file permissions, so "
                            + "anyone on this host could connect; give it an access policy "
                            + "(ConnectionOptions.accessPolicy, or "
                            + "access=same-user in the endpoint)"));
            refuseTakenAbstractName(endpoint);
            ServerSocketChannel channel;
            try {
                channel = binder.bind(null);
            } catch (IOException e) {
                throw bindFailure(endpoint, e);
            }
            return listener(channel, endpoint, options, acceptor, policy, () -> {});
        }
        Bound<ServerSocketChannel> bound = bindFile(
                endpoint,
                options.get(ConnectionOptions.MODE),
                options.find(ConnectionOptions.GROUP).orElse(null),
                false,
                binder,
                streamProbe(prober));
        return listener(
                bound.channel,
                endpoint,
                options,
                acceptor,
                options.find(ConnectionOptions.ACCESS).orElse(AccessPolicy.sameUser()),
                bound.release);
    }

    /**
     * Binds a socket file the way a daemon needs it: the directory is created private (0700) if missing and refused if
     * unsafe; the lock file beside the socket is taken; a stale socket file is removed, a live one left alone; the
     * socket is bound inside a fresh private directory, given its mode and group, and only then linked into place, so
     * nobody can connect or send before its permissions are final. The release removes the socket file and the lock
     * file if they are still this socket's.
     *
     * <p>A datagram socket's bound name is the address its datagrams come from, so one bound in a private directory
     * would send from a path that is gone. With {@code inPlace}, the socket is bound at the path itself when this
     * process's umask gives the new file no write permission beyond {@code mode} (connecting or sending needs write),
     * so nobody else can reach it before its mode is set; with a looser umask it is bound privately all the same, and
     * sends from the private path, kept until close so that replies reach it (logged at debug).
     *
     * @param group the file's group by name, or null to keep the process's
     * @param inPlace whether to bind at the path itself where the umask makes that safe
     * @param probe finds out whether an existing socket file is live
     */
    static <C extends Channel> Bound<C> bindFile(
            Endpoint endpoint, int mode, String group, boolean inPlace, Binder<C> binder, LiveProbe probe)
            throws IOException {
        Path path = endpoint.path().orElseThrow().toAbsolutePath();
        Directories.prepare(endpoint, path.getParent());
        SocketLock lock = SocketLock.acquire(endpoint, SocketLock.pathFor(path));
        try {
            reclaimStale(endpoint, path, probe);
            Path privateDirectory = Directories.createPrivate(path.getParent());
            C channel;
            Object identity;
            boolean keepPrivate = binder.needsBoundPath();
            try {
                boolean safeInPlace = inPlace && umaskKeepsOthersOut(privateDirectory, mode, group);
                // Bound privately, a datagram socket's address is the private path: kept while it lives, so that
                // replies to it (from this user and root: the directory is 0700) still arrive.
                keepPrivate |= inPlace && !safeInPlace;
                if (inPlace && !safeInPlace) {
                    LOG.debug(
                            "binding {} in a private directory first: the umask would let others write the new file "
                                    + "before its mode is set; its datagrams come from that private path",
                            endpoint);
                }
                channel = safeInPlace
                        ? bindInPlace(endpoint, path, mode, group, binder)
                        : bindPrivately(endpoint, path, privateDirectory.resolve("s"), mode, group, binder);
                try {
                    identity = identity(path);
                } catch (IOException | RuntimeException e) {
                    Closer.closeQuietly(channel, e);
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                Closer.closeQuietly(() -> removePrivate(privateDirectory), e);
                throw e;
            }
            if (!keepPrivate) {
                removePrivate(privateDirectory);
            }
            return new Bound<>(
                    channel,
                    () -> new Closer()
                            .run(() -> removeIfOurs(path, identity))
                            .run(() -> removePrivate(privateDirectory))
                            .run(lock::release)
                            .rethrow());
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(lock::release, e);
            throw e;
        }
    }

    private static FramedListener listener(
            ServerSocketChannel channel,
            Endpoint endpoint,
            ConnectionOptions options,
            ChannelListener.Acceptor acceptor,
            AccessPolicy policy,
            Closer.Action release)
            throws IOException {
        ChannelListener listener;
        try {
            listener = new ChannelListener(channel, endpoint, options, acceptor, policy, release);
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            Closer.closeQuietly(release::run, e);
            throw e;
        }
        if (options.get(ConnectionOptions.SHARED_MEMORY) == ConnectionOptions.SharedMemory.OFF) {
            return listener;
        }
        // A client waits in connect for the answer to its request for shared memory, so it is answered at once, off
        // the accept loop, as TLS's and the secret's handshakes are; the secret's runs after it, in the rings.
        try {
            return new HandshakingListener(listener, options, AccessPolicy.anyone(), SecretHandshake.secretOf(options));
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(listener, e);
            throw e;
        }
    }

    /**
     * Removes a stale socket file at {@code path}, one that nobody listens on any more; fails if a live socket is
     * there, or if the file is not a socket.
     */
    private static void reclaimStale(Endpoint endpoint, Path path, LiveProbe probe) throws IOException {
        String what = UnixPaths.whatIsAt(path);
        if (what == null) {
            return;
        }
        if (!what.equals("a socket file")) {
            refuseExisting(endpoint, path);
        }
        boolean live;
        try {
            live = probe.isLive(path);
        } catch (IOException e) {
            throw withCause(new BindException("cannot listen on " + endpoint + ": " + e.getMessage()), e);
        }
        if (live) {
            throw new BindException("cannot listen on " + endpoint + ": another process is listening on " + path);
        }
        Object stale = identity(path);
        Files.deleteIfExists(path);
        LOG.info("removed the stale socket file {}: nobody listened on it", path);
        removeStalePrivateDirectory(path.getParent(), stale);
    }

    /** A stream socket file is live if a connect to it succeeds or finds the backlog full. */
    private static LiveProbe streamProbe(ChannelOpener prober) {
        return path -> {
            try (SocketChannel probe = prober.open()) {
                probe.configureBlocking(false);
                // Connected, or "in progress" (a full backlog): someone is listening.
                probe.connect(UnixDomainSocketAddress.of(path));
                return true;
            } catch (IOException e) {
                if (isRefused(e)) {
                    return false;
                }
                if (isBacklogFull(e)) {
                    return true;
                }
                throw cannotTell(path, e);
            }
        };
    }

    /** Whether a connect or send failed because nobody is bound at the address. */
    static boolean isRefused(IOException e) {
        return String.valueOf(e.getMessage()).contains("refused");
    }

    /** The failure of a probe that could not tell whether a socket file is live. */
    static BindException cannotTell(Path path, IOException e) {
        return withCause(
                new BindException("cannot tell whether the socket file at " + path + " is in use: " + e.getMessage()),
                e);
    }

    /**
     * Removes the private directory a crashed listener bound in (junixsocket's stay while a listener lives): the one
     * whose socket is the stale file itself, a hard link to the same inode. Another listener's has another inode.
     */
    private static void removeStalePrivateDirectory(Path parent, Object stale) {
        if (stale == null) {
            return;
        }
        try (DirectoryStream<Path> privates = Files.newDirectoryStream(parent, ".ipc*")) {
            for (Path directory : privates) {
                Path socket = directory.resolve("s");
                if (Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS) && stale.equals(identityOrNull(socket))) {
                    removePrivate(directory);
                    LOG.info("removed {}, where the listener of the stale socket file had bound", directory);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not remove the private directory of a stale socket file in {}: {}", parent, e.toString());
        }
    }

    private static Object identityOrNull(Path path) {
        try {
            return identity(path);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Whether a file created now would give nobody write permission beyond {@code mode}: the umask, read from a file
     * made in the private directory.
     */
    private static boolean umaskKeepsOthersOut(Path privateDirectory, int mode, String group) throws IOException {
        Path probe = privateDirectory.resolve("u");
        Files.createFile(probe);
        int created;
        try {
            created = Directories.modeOf(Files.getPosixFilePermissions(probe, LinkOption.NOFOLLOW_LINKS));
        } finally {
            Files.delete(probe);
        }
        int writable = created & 0222;
        return (writable & ~mode) == 0 && (group == null || (writable & 0020) == 0);
    }

    /** Binds at the path itself, then sets mode and group; for when the umask keeps others out meanwhile. */
    private static <C extends Channel> C bindInPlace(
            Endpoint endpoint, Path path, int mode, String group, Binder<C> binder) throws IOException {
        C channel;
        try {
            channel = binder.bind(path);
        } catch (IOException e) {
            throw bindFailure(endpoint, e);
        }
        try {
            Files.setPosixFilePermissions(path, Directories.permissions(mode));
            if (group != null) {
                Directories.setGroup(endpoint, path, group);
            }
            return channel;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            Closer.closeQuietly(() -> Files.deleteIfExists(path), e);
            throw e;
        }
    }

    /** Binds inside a fresh private directory, sets mode and group, then links the socket into place. */
    private static <C extends Channel> C bindPrivately(
            Endpoint endpoint, Path path, Path temporary, int mode, String group, Binder<C> binder) throws IOException {
        int bytes = UnixPaths.byteLength(temporary);
        if (bytes > UnixPaths.MAX_PATH_BYTES) {
            throw new SocketException("cannot listen on " + endpoint + ": the socket is bound first at " + temporary
                    + " so that nobody can connect before its mode is set, and that path is " + bytes
                    + " bytes, over the limit of " + UnixPaths.MAX_PATH_BYTES + "; shorten the path by "
                    + (bytes - UnixPaths.MAX_PATH_BYTES) + " bytes");
        }
        C channel;
        try {
            channel = binder.bind(temporary);
        } catch (IOException e) {
            throw bindFailure(endpoint, e);
        }
        try {
            Files.setPosixFilePermissions(temporary, Directories.permissions(mode));
            if (group != null) {
                Directories.setGroup(endpoint, temporary, group);
            }
            try {
                Files.createLink(path, temporary);
            } catch (FileAlreadyExistsException e) {
                throw withCause(
                        new BindException("cannot listen on " + endpoint + ": " + UnixPaths.whatIsAt(path)
                                + " appeared at " + path + " while binding"),
                        e);
            }
            return channel;
        } catch (IOException | RuntimeException e) {
            Closer.closeQuietly(channel, e);
            throw e;
        }
    }

    private static void removePrivate(Path privateDirectory) throws IOException {
        Files.deleteIfExists(privateDirectory.resolve("s"));
        Files.deleteIfExists(privateDirectory);
    }
}
