package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.AccessPolicy;
import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import dev.ipc.UnexpectedServerException;
import dev.ipc.internal.UnixPaths;
import dev.ipc.testkit.EchoPeer;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.BindException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What a daemon serving a socket file expects, on both Unix backends. */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DaemonSocketTest {

    private Path directory;
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @BeforeEach
    void createDirectory() throws IOException {
        directory = Files.createTempDirectory("ipcd");
    }

    @AfterEach
    void removeDirectory() throws Exception {
        threads.shutdownNow();
        assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS));
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path path : files.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                if (!Files.isSymbolicLink(path)) {
                    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwx------"));
                }
                Files.delete(path);
            }
        }
    }

    private static Endpoint at(Path path, String backend) {
        return Endpoint.unix(path).withParameter("backend", backend);
    }

    private static String mode(Path path) throws IOException {
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return "0" + Integer.toOctalString(mode & 0777);
    }

    private static void assertServes(Listener listener) throws IOException {
        try (Connection client = Ipc.connect(listener.endpoint());
                Connection server = listener.accept()) {
            client.send("ping".getBytes(UTF_8));
            assertEquals("ping", new String(server.receive(), UTF_8));
        }
    }

    // ---- the socket file and its directory ----------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void createsAPrivateDirectoryAndAnOwnerOnlySocketFile(String backend) throws IOException {
        Path path = directory.resolve("run/app/app.sock");
        try (Listener listener = Ipc.listen(at(path, backend))) {
            assertEquals("0700", mode(path.getParent()));
            assertEquals("0600", mode(path));
            assertTrue(Files.exists(SocketLock.pathFor(path)), "the lock file is held beside the socket");
            assertServes(listener);
        }
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "socket file removed on close");
        assertFalse(Files.exists(SocketLock.pathFor(path)), "lock file removed on close");
        try (Stream<Path> left = Files.list(path.getParent())) {
            assertEquals(List.of(), left.collect(Collectors.toList()), "nothing left in the directory");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void givesTheSocketFileTheModeAndGroupAsked(String backend) throws IOException {
        String group = Files.readAttributes(directory, PosixFileAttributes.class)
                .group()
                .getName();
        Endpoint endpoint = Endpoint.parse(at(directory.resolve("g.sock"), backend) + "&mode=0660&group=" + group);
        try (Listener listener = Ipc.listen(endpoint)) {
            Path path = directory.resolve("g.sock");
            assertEquals("0660", mode(path));
            assertEquals(
                    group,
                    Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                            .group()
                            .getName());
            assertServes(listener);
        }
        IllegalArgumentException noGroup = assertThrows(
                IllegalArgumentException.class,
                () -> Ipc.listen(Endpoint.parse(at(directory.resolve("n.sock"), backend) + "&group=no-such-group-here"))
                        .close());
        assertTrue(noGroup.getMessage().contains("no group named 'no-such-group-here'"), noGroup.getMessage());
        assertFalse(Files.exists(directory.resolve("n.sock"), LinkOption.NOFOLLOW_LINKS));
        try (Stream<Path> left = Files.list(directory)) {
            assertEquals(List.of(), left.collect(Collectors.toList()), "a failed start leaves nothing behind");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void refusesUnsafeDirectories(String backend) throws IOException {
        Path real = Files.createDirectory(directory.resolve("real"));
        Path link = Files.createSymbolicLink(directory.resolve("link"), real);
        AccessDeniedException symlink = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.listen(at(link.resolve("s.sock"), backend)).close());
        assertTrue(symlink.getMessage().contains("is a symbolic link"), symlink.getMessage());
        assertEquals(link.toString(), symlink.getFile());

        Path open = Files.createDirectory(directory.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        AccessDeniedException worldWritable = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.listen(at(open.resolve("s.sock"), backend)).close());
        assertTrue(
                worldWritable.getMessage().contains("it may be written by others (mode 0777) and has no sticky bit"),
                worldWritable.getMessage());

        Files.setAttribute(open, "unix:mode", 01777); // like /tmp: sticky, so others can't replace our file
        try (Listener listener = Ipc.listen(at(open.resolve("s.sock"), backend))) {
            assertServes(listener);
        }

        assumeTrue(isRoot(), "changing a directory's owner needs root");
        Path foreign = Files.createDirectory(directory.resolve("foreign"));
        Files.setAttribute(foreign, "unix:uid", 65534);
        AccessDeniedException owned = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.listen(at(foreign.resolve("s.sock"), backend)).close());
        assertTrue(owned.getMessage().contains("owned by uid 65534"), owned.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void refusesADirectoryWhoseAncestorAnotherUserCouldChange(String backend) throws Exception {
        // Our own private directory, but inside one that others may write to without the sticky bit.
        Path open = Files.createDirectory(directory.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path mine = Files.createDirectories(open.resolve("a/mine"));
        AccessDeniedException worldWritable = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.listen(at(mine.resolve("s.sock"), backend)).close());
        assertEquals(open.toString(), worldWritable.getFile());
        assertTrue(
                worldWritable.getMessage().contains(open + ", above it, may be written by others (mode 0777)"),
                worldWritable.getMessage());
        // A link above it is followed too: where it leads is no safer than the link.
        Path link = Files.createSymbolicLink(directory.resolve("via"), open.resolve("a"));
        assertThrows(
                AccessDeniedException.class,
                () -> Ipc.listen(at(link.resolve("mine/s.sock"), backend)).close());
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Listener listener = Ipc.listen(at(link.resolve("mine/s.sock"), backend))) {
            assertServes(listener);
        }

        assumeCanActAsNobody();
        // Root's own directory, two levels under one of uid 65534: that user may rename it and make their own.
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path theirs = ownedByNobody(Files.createDirectory(directory.resolve("theirs")));
        Path ours = Files.createDirectories(theirs.resolve("app/run"));
        AccessDeniedException owned = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.listen(at(ours.resolve("s.sock"), backend)).close());
        assertEquals(theirs.toString(), owned.getFile());
        assertTrue(owned.getMessage().contains(theirs + ", above it, is owned by uid 65534"), owned.getMessage());
        assertFalse(Files.exists(ours.resolve("s.sock")), "nothing was bound");
        // The threat is real: that user can indeed move root's directory aside.
        Process swap = new ProcessBuilder(asNobody(
                        "mv",
                        theirs.resolve("app").toString(),
                        theirs.resolve("moved").toString()))
                .redirectErrorStream(true)
                .start();
        assertTrue(swap.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, swap.exitValue(), new String(swap.getInputStream().readAllBytes(), UTF_8));
    }

    // ---- stale files and live daemons -------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void reclaimsAStaleSocketFile(String backend) throws IOException {
        Path path = directory.resolve("stale.sock");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(path));
        } // the JDK leaves the file behind, as a crashed daemon would
        Object staleInode = Files.readAttributes(path, "unix:ino", LinkOption.NOFOLLOW_LINKS);
        try (Listener listener = Ipc.listen(at(path, backend))) {
            assertFalse(staleInode.equals(Files.readAttributes(path, "unix:ino", LinkOption.NOFOLLOW_LINKS)));
            assertServes(listener);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void reclaimsTheFileOfADaemonKilledWithSigkill(String backend) throws Exception {
        Path path = directory.resolve("killed.sock");
        Process daemon = new ProcessBuilder(
                        javaCommand(EchoPeer.class.getName(), at(path, backend).toString()))
                .start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(daemon.getInputStream(), UTF_8));
            String ready = threads.submit(lines::readLine).get(30, TimeUnit.SECONDS);
            assertTrue(ready != null && ready.startsWith("READY"), String.valueOf(ready));
        } finally {
            daemon.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
            assertTrue(daemon.waitFor(10, TimeUnit.SECONDS));
        }
        assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "the killed daemon left its socket file");
        List<Path> leftByTheDead;
        try (Stream<Path> left = Files.list(directory)) {
            leftByTheDead = left.filter(file -> file.getFileName().toString().startsWith(".ipc"))
                    .collect(Collectors.toList());
        }
        // junixsocket's private bind directory is what a killed junixsocket daemon leaves besides.
        assertEquals("junixsocket".equals(backend) ? 1 : 0, leftByTheDead.size(), leftByTheDead.toString());
        try (Listener listener = Ipc.listen(at(path, backend))) {
            assertServes(listener);
            for (Path dead : leftByTheDead) {
                assertFalse(Files.exists(dead), "the next start reclaims " + dead + " with the stale socket file");
            }
        }
        try (Stream<Path> left = Files.list(directory)) {
            assertEquals(List.of(), left.collect(Collectors.toList()), "nothing left after a clean stop");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void neverDisturbsALiveDaemonInThisProcess(String backend) throws IOException {
        Path path = directory.resolve("live.sock");
        try (Listener live = Ipc.listen(at(path, backend));
                Connection client = Ipc.connect(live.endpoint());
                Connection server = live.accept()) {
            Object inode = Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS);
            BindException second = assertThrows(
                    BindException.class, () -> Ipc.listen(at(path, backend)).close());
            assertTrue(second.getMessage().contains("another process is listening there"), second.getMessage());
            client.send("still".getBytes(UTF_8));
            assertEquals("still", new String(server.receive(), UTF_8));
            assertEquals(inode, Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS));
            assertServes(live);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void neverDisturbsALiveDaemonInAnotherProcess(String backend) throws Exception {
        Path path = directory.resolve("other.sock");
        try (Listener live = Ipc.listen(at(path, backend));
                Connection client = Ipc.connect(live.endpoint());
                Connection server = live.accept()) {
            Object inode = Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS);
            Process second = new ProcessBuilder(javaCommand(
                            EchoPeer.class.getName(), live.endpoint().toString()))
                    .redirectErrorStream(true)
                    .start();
            try {
                assertTrue(second.waitFor(30, TimeUnit.SECONDS));
                String output = new String(second.getInputStream().readAllBytes(), UTF_8);
                assertEquals(1, second.exitValue(), output);
                assertTrue(output.contains("another process is listening there"), output);
            } finally {
                second.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            client.send("still".getBytes(UTF_8));
            assertEquals("still", new String(server.receive(), UTF_8));
            assertEquals(inode, Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void neverDisturbsALiveListenerThatTakesNoLock(String backend) throws IOException {
        Path path = directory.resolve("foreign.sock");
        try (ServerSocketChannel foreign = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            foreign.bind(UnixDomainSocketAddress.of(path));
            BindException e = assertThrows(
                    BindException.class, () -> Ipc.listen(at(path, backend)).close());
            assertTrue(e.getMessage().contains("another process is listening on " + path), e.getMessage());
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                assertTrue(client.isConnected(), "the foreign listener still serves");
            }
            Files.delete(path);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void twentyConcurrentStartersOnAStalePathGiveOneWinner(String backend) throws Exception {
        Path path = directory.resolve("race.sock");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(path));
        }
        int starters = 20;
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Listener>> attempts = new ArrayList<>();
        for (int i = 0; i < starters; i++) {
            attempts.add(threads.submit(() -> {
                go.await();
                return Ipc.listen(at(path, backend));
            }));
        }
        go.countDown();
        List<Listener> winners = new ArrayList<>();
        int refused = 0;
        for (Future<Listener> attempt : attempts) {
            try {
                winners.add(attempt.get(30, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                assertTrue(e.getCause() instanceof BindException, String.valueOf(e.getCause()));
                refused++;
            }
        }
        try {
            assertEquals(1, winners.size(), "exactly one starter wins");
            assertEquals(starters - 1, refused);
            assertServes(winners.get(0));
        } finally {
            for (Listener winner : winners) {
                winner.close();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void neverFollowsALockFileSymlinkNorWaitsOnAFifo(String backend) throws Exception {
        Path path = directory.resolve("lock.sock");
        Path lock = directory.resolve("lock.sock.lock");
        Path target = directory.resolve("someone-elses-file");
        Files.writeString(target, "not yours to create or truncate");
        Files.createSymbolicLink(lock, target);
        BindException link = assertThrows(
                BindException.class, () -> Ipc.listen(at(path, backend)).close());
        assertTrue(link.getMessage().contains("is a symbolic link (to " + target + ")"), link.getMessage());
        assertEquals("not yours to create or truncate", Files.readString(target), "the link's target is untouched");
        Files.delete(lock);
        Files.delete(target);

        Process mkfifo = new ProcessBuilder("mkfifo", lock.toString()).start();
        assertTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0, "mkfifo");
        // Opening a FIFO for writing alone would wait for a reader: the test's timeout would end it.
        BindException fifo = assertThrows(
                BindException.class, () -> Ipc.listen(at(path, backend)).close());
        assertTrue(fifo.getMessage().contains("is a FIFO (named pipe), not a regular file"), fifo.getMessage());
        Files.delete(lock);
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "no socket file was made");
    }

    // ---- access policy ----------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void aRefusedPeerNeverReachesAccept(String backend) throws IOException {
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.ACCEPT_TIMEOUT, Duration.ofMillis(300))
                .set(ConnectionOptions.ACCESS, AccessPolicy.matching("nobody", false, peer -> false))
                .build();
        try (Listener listener = Ipc.listen(at(directory.resolve("p.sock"), backend), options);
                Connection refused = Ipc.connect(listener.endpoint())) {
            assertThrows(SocketTimeoutException.class, listener::accept, "the refused connection is not handed out");
            byte[] error = refused.receive();
            assertEquals(5, error[0], "the refused peer is told why: an ERROR frame");
            assertEquals(9, ByteBuffer.wrap(error, 5, 2).getShort(), "UNAUTHORIZED");
            assertNull(refused.receive(), "then it sees its connection closed");
        }
    }

    @Test
    void aPolicyOnNumericIdsChoosesABackendThatHasThem() throws IOException {
        long uid = ((Number) Files.getAttribute(directory, "unix:uid")).longValue();
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.ACCESS, AccessPolicy.uids(uid))
                .build();
        Endpoint endpoint = Endpoint.unix(directory.resolve("ids.sock"));
        assertEquals("unix/junixsocket", Ipc.transportFor(endpoint, options).id());
        try (Listener listener = Ipc.listen(endpoint, options)) {
            assertServes(listener);
        }
        IllegalStateException forced = assertThrows(
                IllegalStateException.class, () -> Ipc.listen(Endpoint.parse(endpoint + "?backend=jdk"), options));
        assertTrue(forced.getMessage().contains("the JDK gives peer names only"), forced.getMessage());
    }

    @Test
    void anAbstractSocketNeedsAnAccessPolicy() throws IOException {
        Endpoint endpoint = Endpoint.unixAbstract(
                "ipc-test-policy-" + ProcessHandle.current().pid());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> Ipc.listen(endpoint).close());
        assertTrue(e.getMessage().contains("has no file permissions"), e.getMessage());
        try (Listener listener = Ipc.listen(Endpoint.parse(endpoint + "?access=same-user"))) {
            assertServes(listener);
        }
    }

    // ---- another user -----------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void anotherUserIsRefusedByTheFileModeAndThenByThePolicy(String backend) throws Exception {
        assumeCanActAsNobody();
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path client = directory.resolve("OtherUserClient.java");
        try (InputStream source = getClass().getResourceAsStream("/OtherUserClient.java")) {
            Files.copy(source, client);
        }
        Path path = directory.resolve("o.sock");
        try (Listener listener = Ipc.listen(at(path, backend))) {
            String denied = runAsNobody(client, path);
            assertTrue(denied.startsWith("DENIED") && denied.contains("Permission denied"), denied);
        }
        ConnectionOptions open = ConnectionOptions.builder()
                .set(ConnectionOptions.MODE, 0666)
                .set(ConnectionOptions.ACCEPT_TIMEOUT, Duration.ofMillis(200))
                .build();
        try (Listener listener = Ipc.listen(at(path, backend), open)) {
            Future<String> nobody = threads.submit(() -> runAsNobody(client, path));
            // Keep accepting while the other user's JVM starts, connects and waits: the policy refuses
            // inside accept(), which must never hand the connection out.
            while (!nobody.isDone()) {
                assertThrows(SocketTimeoutException.class, listener::accept, "uid 65534 never reaches accept()");
            }
            String seen = nobody.get();
            assertTrue(
                    seen.startsWith("ERROR 9 the access policy of ") && seen.endsWith(", then EOF"),
                    "the kernel let it in; the policy said why (UNAUTHORIZED) and closed it: " + seen);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void aClientRefusesAListenerOfAnotherUserUnlessToldToExpectIt(String backend) throws Exception {
        assumeCanActAsNobody();
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        // uid 65534 got there first: its own directory, under a temporary directory anyone may write to.
        Path theirs = ownedByNobody(Files.createDirectory(directory.resolve("theirs")));
        Path path = theirs.resolve("s.sock");
        Process impostor = listenAsNobody(directory, path);
        try {
            UnexpectedServerException refused = assertThrows(
                    UnexpectedServerException.class,
                    () -> Ipc.connect(at(path, backend)).close());
            assertTrue(
                    refused.getMessage().contains("runs as uid 65534")
                            && refused.getMessage().contains("this user, root"),
                    refused.getMessage());
            for (String told : new String[] {"uid:65534", "user:nobody", "any"}) {
                Ipc.connect(at(path, backend).withParameter("expectServer", told))
                        .close();
            }
        } finally {
            JavaProcesses.reap(impostor);
            Files.deleteIfExists(path);
            Files.delete(theirs);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "junixsocket"})
    void aServiceUsersListenerUnderDirectoriesOnlyRootCanWriteIsExpected(String backend) throws Exception {
        assumeCanActAsNobody();
        // As /run/NAME/ would be: a directory root gave the service user, under directories only root may change.
        Path base = Path.of("target").toAbsolutePath();
        for (Path above = base; above != null; above = above.getParent()) {
            assumeTrue(
                    ((Integer) Files.getAttribute(above, "unix:uid")) == 0
                            && (((Integer) Files.getAttribute(above, "unix:mode")) & 022) == 0,
                    "every directory above the build directory must be root's, writable by no one else: " + above);
        }
        Path run = Files.createTempDirectory(base, "run");
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path service = ownedByNobody(Files.createDirectory(run.resolve("service")));
        Path path = service.resolve("s.sock");
        Process daemon = listenAsNobody(run, path);
        try {
            Ipc.connect(at(path, backend)).close(); // expectServer=auto
            UnexpectedServerException refused = assertThrows(
                    UnexpectedServerException.class,
                    () -> Ipc.connect(at(path, backend).withParameter("expectServer", "same-user"))
                            .close());
            assertTrue(refused.getMessage().contains("expectServer=same-user"), refused.getMessage());
        } finally {
            JavaProcesses.reap(daemon);
            Files.deleteIfExists(path);
            Files.delete(service);
            Files.deleteIfExists(run.resolve("OtherUserServer.java"));
            Files.delete(run);
        }
    }

    private static void assumeCanActAsNobody() {
        assumeTrue(
                isRoot() && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "switching to uid 65534 needs root and setpriv (util-linux)");
    }

    private static Path ownedByNobody(Path directory) throws IOException {
        Files.setAttribute(directory, "unix:uid", 65534);
        Files.setAttribute(directory, "unix:gid", 65534);
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        return directory;
    }

    /** Starts a listener on {@code socket} as uid 65534, its source copied into {@code scratch}; waits for it. */
    private Process listenAsNobody(Path scratch, Path socket) throws Exception {
        Path source = scratch.resolve("OtherUserServer.java");
        try (InputStream in = getClass().getResourceAsStream("/OtherUserServer.java")) {
            Files.copy(in, source);
        }
        Files.setPosixFilePermissions(source, PosixFilePermissions.fromString("rw-r--r--"));
        Process process = new ProcessBuilder(asNobody(
                        JavaProcesses.java(),
                        "-XX:-UsePerfData",
                        "-Duser.home=/tmp",
                        source.toString(),
                        socket.toString()))
                .redirectErrorStream(true)
                .start();
        BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8));
        String ready = threads.submit(lines::readLine).get(60, TimeUnit.SECONDS);
        assertEquals("READY", ready, "the other user's listener started");
        return process;
    }

    /** {@code command} run as uid and gid 65534, with no supplementary groups. */
    private static List<String> asNobody(String... command) {
        List<String> line =
                new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        line.addAll(List.of(command));
        return line;
    }

    private static String runAsNobody(Path client, Path socket) throws Exception {
        List<String> command = asNobody(
                JavaProcesses.java(),
                "-XX:-UsePerfData",
                "-Xshare:auto",
                "-Duser.home=/tmp",
                client.toString(),
                socket.toString());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the other user's client finished");
            return new String(process.getInputStream().readAllBytes(), UTF_8).trim();
        } finally {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---- the default place ------------------------------------------------------------------------------

    @Test
    void theRuntimeEndpointIsPrivateAndServes() throws IOException {
        String app = "ipc-test-" + ProcessHandle.current().pid();
        Endpoint endpoint = Endpoint.runtime(app);
        Path path = endpoint.path().orElseThrow();
        assertEquals(app + ".sock", path.getFileName().toString());
        assertTrue(path.getParent().getFileName().toString().startsWith(app), path.toString());
        try (Listener listener = Ipc.listen(endpoint)) {
            assertEquals("0700", mode(path.getParent()));
            assertServes(listener);
        } finally {
            Files.deleteIfExists(path.getParent());
        }
        assertThrows(IllegalArgumentException.class, () -> Endpoint.runtime("../escape"));
    }

    @Test
    void theRuntimeFallbackTakenFirstByAnotherUserIsRefusedByServerAndClient() throws Exception {
        assumeTrue(System.getenv("XDG_RUNTIME_DIR") == null, "the fallback is used only without XDG_RUNTIME_DIR");
        assumeCanActAsNobody();
        Files.setAttribute(directory, "unix:mode", 01777); // as /tmp is
        String app = "app" + ProcessHandle.current().pid();
        String temporary = System.getProperty("java.io.tmpdir");
        System.setProperty("java.io.tmpdir", directory.toString());
        Endpoint endpoint;
        try {
            endpoint = Endpoint.runtime(app);
        } finally {
            System.setProperty("java.io.tmpdir", temporary);
        }
        Path path = endpoint.path().orElseThrow();
        assertEquals(directory.resolve(app + "-" + System.getProperty("user.name")), path.getParent());
        // uid 65534 made the directory first and listens in it.
        Path theirs = ownedByNobody(Files.createDirectory(path.getParent()));
        Process impostor = listenAsNobody(directory, path);
        try {
            AccessDeniedException server = assertThrows(
                    AccessDeniedException.class, () -> Ipc.listen(endpoint).close());
            assertTrue(server.getMessage().contains("it is owned by uid 65534"), server.getMessage());
            UnexpectedServerException client = assertThrows(
                    UnexpectedServerException.class, () -> Ipc.connect(endpoint).close());
            assertTrue(
                    client.getMessage().contains("65534") || client.getMessage().contains("nobody"),
                    client.getMessage());
        } finally {
            JavaProcesses.reap(impostor);
            Files.deleteIfExists(path);
            Files.delete(theirs);
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    private static boolean isRoot() {
        return UnixPaths.ownUid().orElse(-1) == 0;
    }

    private static List<String> javaCommand(String mainClass, String... args) {
        return JavaProcesses.command(mainClass, args);
    }

    @Test
    void theLockFileNameSitsBesideTheSocket() {
        assertEquals(Path.of("/run/app/app.sock.lock"), SocketLock.pathFor(Path.of("/run/app/app.sock")));
    }
}
