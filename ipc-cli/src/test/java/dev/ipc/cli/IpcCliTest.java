package dev.ipc.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.testkit.Background;
import dev.ipc.testkit.CommandRun;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.TestCertificates;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The ipc tool as users run it: real processes, their exit codes, output and errors. */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class IpcCliTest {

    @TempDir
    Path directory;

    private final List<Process> servers = new ArrayList<>();

    @AfterEach
    void stopServers() throws Exception {
        for (Process server : servers) {
            JavaProcesses.reap(server);
        }
    }

    private static CommandRun run(List<String> command, String input) throws Exception {
        return CommandRun.of(new ProcessBuilder(command), input);
    }

    private static CommandRun ipc(String... args) throws Exception {
        return run(JavaProcesses.command(Main.class.getName(), args), null);
    }

    private static String read(InputStream in) {
        return CommandRun.read(in);
    }

    /** Starts {@code ipc serve} and returns the endpoint it prints first. */
    private String serve(String endpoint) throws Exception {
        return serve(JavaProcesses.command(Main.class.getName(), "serve", endpoint));
    }

    /** Starts {@code ipc serve} by {@code command} and returns the endpoint it prints first. */
    private String serve(List<String> command) throws Exception {
        Process server = new ProcessBuilder(command).start();
        servers.add(server);
        BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), UTF_8));
        String first = Background.call("io", () -> {
                    try {
                        return lines.readLine();
                    } catch (IOException e) {
                        return null;
                    }
                })
                .get(60, TimeUnit.SECONDS);
        if (first == null) {
            server.waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("ipc serve printed no endpoint; stderr: " + read(server.getErrorStream()));
        }
        return first;
    }

    /** The endpoint {@code serve} printed, without the query it carries, for tests that give a client's own. */
    private static String withoutQuery(String endpoint) {
        return endpoint.split("\\?", 2)[0];
    }

    private static void assertOneLineError(CommandRun run, int exit, String command, String... parts) {
        assertEquals(exit, run.exit, run.toString());
        assertTrue(run.err.startsWith("ipc " + command + ": "), run.toString());
        assertEquals(1, run.err.strip().lines().count(), "one line: " + run);
        assertFalse(run.err.contains("\tat "), "no stack trace without --verbose: " + run);
        for (String part : parts) {
            assertTrue(run.err.contains(part), "should mention " + part + ": " + run);
        }
    }

    private static void assertDoctor(CommandRun run, int exit, String... parts) {
        assertEquals(exit, run.exit, run.toString());
        for (String part : parts) {
            assertTrue(run.out.contains(part), "should say " + part + ": " + run);
        }
    }

    // ---- serve, call, ping --------------------------------------------------------------------------

    @Test
    void servesCallsAndPingsOnASocketFile() throws Exception {
        String endpoint = serve("unix:" + directory.resolve("s.sock"));
        assertEquals("unix:" + directory.resolve("s.sock"), endpoint);

        CommandRun call = ipc("call", endpoint, "hello");
        assertEquals(0, call.exit, call.toString());
        assertEquals("hello", call.out);
        CommandRun piped = run(JavaProcesses.command(Main.class.getName(), "call", endpoint, "-"), "from stdin\n");
        assertEquals("from stdin\n", piped.out);

        CommandRun ping = ipc("ping", endpoint, "-c", "5", "-s", "32");
        assertEquals(0, ping.exit, ping.toString());
        assertEquals(
                5,
                ping.out
                        .lines()
                        .filter(line -> line.startsWith("32 bytes from " + endpoint + ": seq="))
                        .count(),
                ping.out);
        assertTrue(ping.out.contains("5 sent, 5 received, 0% lost"), ping.out);
        assertTrue(
                ping.out.matches("(?s).*round trip min/avg/p50/p99/max = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms.*"),
                ping.out);
    }

    @Test
    void servesCallsAndPingsDatagramsOnUdpAndAUnixDatagramFile() throws Exception {
        for (String bind : List.of("udp://127.0.0.1:0", "unixgram:" + directory.resolve("d.sock"))) {
            String endpoint = serve(bind);
            if (bind.startsWith("udp")) {
                assertTrue(endpoint.matches("udp://127\\.0\\.0\\.1:[1-9][0-9]*"), endpoint);
            } else {
                assertEquals(bind, endpoint);
            }
            CommandRun call = ipc("call", endpoint, "a datagram");
            assertEquals(0, call.exit, call.toString());
            assertEquals("a datagram", call.out);

            CommandRun ping = ipc("ping", endpoint, "-c", "5", "-s", "64", "-W", "10s");
            assertEquals(0, ping.exit, ping.toString());
            assertEquals(
                    5,
                    ping.out
                            .lines()
                            .filter(line -> line.startsWith("64 bytes from " + endpoint + ": seq="))
                            .count(),
                    ping.out);
            assertTrue(ping.out.contains("5 sent, 5 received, 0% lost"), ping.out);

            CommandRun doctor = ipc("doctor", endpoint);
            assertDoctor(doctor, 0, "is well formed: datagrams", "datagrams have no TLS and no shared secret");
            if (!bind.startsWith("udp")) {
                assertDoctor(doctor, 0, "ok       a socket is bound at " + endpoint);
            }
        }
        Process server = servers.get(1);
        server.destroy(); // SIGTERM
        assertTrue(server.waitFor(60, TimeUnit.SECONDS), "ipc serve stopped");
        assertEquals(0, server.exitValue(), "a graceful stop is success; stderr: " + read(server.getErrorStream()));
        assertFalse(Files.exists(directory.resolve("d.sock")), "the socket file went with the server");
    }

    /**
     * A sender that never reads its own socket fills its queue with echoes; the echo drops what no longer fits instead
     * of waiting, so every other sender is still answered (issue 27, case 6).
     */
    @Test
    void theDatagramEchoServesOthersWhileASenderNeverReads() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(python), "python3 is not installed at " + python);
        String endpoint = serve("unixgram:" + directory.resolve("e.sock"));
        Process deaf = new ProcessBuilder(
                        python.toString(),
                        "-c",
                        "import socket, sys\n"
                                + "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                + "s.bind(sys.argv[1])\n"
                                + "for i in range(200):\n"
                                + "    s.sendto(b'never read', sys.argv[2])\n"
                                + "print('SENT', flush=True)\n"
                                + "sys.stdin.read()\n",
                        directory.resolve("deaf.sock").toString(),
                        directory.resolve("e.sock").toString())
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(deaf.getInputStream(), UTF_8));
            assertEquals("SENT", lines.readLine());
            CommandRun call = ipc("call", "--timeout", "10s", endpoint, "still echoing");
            assertEquals(0, call.exit, call.toString());
            assertEquals("still echoing", call.out);
        } finally {
            deaf.getOutputStream().close();
            assertTrue(deaf.waitFor(30, TimeUnit.SECONDS));
            JavaProcesses.reap(deaf);
        }
    }

    @Test
    void aDatagramCallWithNoReplyTimesOutInOneLine() throws Exception {
        Path stale = directory.resolve("nobody.sock");
        CommandRun refused = ipc("call", "unixgram:" + stale, "x");
        assertOneLineError(refused, 1, "call", "unixgram:" + stale);
        assertDoctor(ipc("doctor", "unixgram:" + stale), 1, "PROBLEM  no such file");
        CommandRun unreachable = ipc("call", "--timeout", "5s", "udp://127.0.0.1:9", "x");
        assertOneLineError(unreachable, 1, "call", "nothing is bound at the peer's port");
    }

    @Test
    void servesTcpOnPortZeroAndPrintsTheRealPort() throws Exception {
        String endpoint = serve("tcp://127.0.0.1:0");
        assertTrue(endpoint.matches("tcp://127\\.0\\.0\\.1:[1-9][0-9]*"), endpoint);
        assertEquals("ok", ipc("call", endpoint, "ok").out);
    }

    @Test
    void theEndpointServePrintsWorksForCallAsItIsAndAGracefulStopExitsZero() throws Exception {
        Path secret = directory.resolve("secret");
        String value = "a secret of more than sixteen bytes";
        Files.writeString(secret, value + "\n");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        String endpoint = serve("tls://127.0.0.1:0?" + TestCertificates.get().pemQuery() + "&secretFile=" + secret);
        assertTrue(endpoint.matches("tls://127\\.0\\.0\\.1:[1-9][0-9]*\\?.*"), endpoint);
        assertTrue(endpoint.contains("secretFile=" + secret), "the secret by reference: " + endpoint);
        assertFalse(endpoint.contains(value), "never by value: " + endpoint);
        CommandRun call = ipc("call", endpoint, "over tls, proven");
        assertEquals(0, call.exit, call.toString());
        assertEquals("over tls, proven", call.out);

        Process server = servers.get(0);
        server.destroy(); // SIGTERM
        assertTrue(server.waitFor(60, TimeUnit.SECONDS), "ipc serve stopped");
        assertEquals(0, server.exitValue(), "a graceful stop is success; stderr: " + read(server.getErrorStream()));
    }

    @Test
    void failuresAreOneLineWithExitCodeOneAndAStackTraceOnlyWhenVerbose() throws Exception {
        String nobody = "unix:" + directory.resolve("nobody.sock");
        assertOneLineError(
                ipc("call", nobody, "x"),
                1,
                "call",
                "cannot connect",
                directory.resolve("nobody.sock").toString());
        assertOneLineError(ipc("ping", nobody), 1, "ping", "cannot connect");
        CommandRun verbose = ipc("call", "--verbose", nobody, "x");
        assertEquals(1, verbose.exit);
        assertTrue(verbose.err.contains("\tat "), "a stack trace with --verbose: " + verbose);
    }

    @Test
    void usageErrorsExitWithTwo() throws Exception {
        assertEquals(2, ipc().exit);
        assertEquals(2, ipc("frobnicate").exit);
        assertEquals(2, ipc("call").exit);
        assertEquals(2, ipc("ping", "unix:/x", "-c", "many").exit);
        assertOneLineError(ipc("call", "unix//nope", "x"), 2, "call", "invalid endpoint 'unix//nope'");
    }

    @Test
    void everyCommandHasHelp() throws Exception {
        CommandRun top = ipc("--help");
        assertEquals(0, top.exit);
        for (String command : new String[] {"serve", "call", "ping", "doctor"}) {
            assertTrue(top.out.contains("  " + command + " "), top.out);
            CommandRun help = ipc(command, "--help");
            assertEquals(0, help.exit, help.toString());
            assertTrue(help.out.startsWith("Usage: ipc " + command), help.out);
        }
        assertTrue(top.out.contains("  bench "), top.out);
    }

    @Test
    void theLauncherAtTheRepositoryRootRunsTheTool() throws Exception {
        Path launcher = Path.of("..", "ipc").toAbsolutePath().normalize();
        CommandRun help = run(List.of(launcher.toString(), "--help"), null);
        assertEquals(0, help.exit, help.toString());
        assertTrue(help.out.startsWith("Usage: ipc"), help.out);
    }

    // ---- doctor --------------------------------------------------------------------------------------

    @Test
    void doctorSaysAListenerIsAliveAndWhoItIs() throws Exception {
        String endpoint = serve("unix:" + directory.resolve("alive.sock"));
        CommandRun doctor = ipc("doctor", endpoint);
        assertDoctor(
                doctor,
                0,
                "is a socket (mode 0600",
                "connected: a listener is alive at " + endpoint,
                "it speaks the ipc protocol",
                "verdict  a client can talk to");
        long pid = servers.get(0).pid();
        assertTrue(doctor.out.contains("pid " + pid) || doctor.out.contains("user "), "names the listener: " + doctor);
    }

    @Test
    void doctorExplainsAMissingFileAPlainFileAndALongPath() throws Exception {
        assertDoctor(ipc("doctor", "unix:" + directory.resolve("missing.sock")), 1, "PROBLEM  no such file");
        assertDoctor(
                ipc("doctor", "unix:" + directory.resolve("no-dir").resolve("x.sock")),
                1,
                "PROBLEM  no such directory");
        Path plain = Files.writeString(directory.resolve("plain"), "not a socket");
        assertDoctor(ipc("doctor", "unix:" + plain), 1, "PROBLEM  not a socket", "is a regular file");
        Path fifo = directory.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0, "mkfifo");
        assertDoctor(ipc("doctor", "unix:" + fifo), 1, "PROBLEM  not a socket", "is a FIFO (named pipe)");
        assertDoctor(
                ipc("doctor", "unix:" + directory.resolve("a".repeat(120))),
                1,
                "PROBLEM  path too long",
                "at most 107");
        assertDoctor(ipc("doctor", "tcp//x"), 1, "PROBLEM  invalid endpoint");
    }

    @Test
    void doctorRecognisesAStaleSocketFile() throws Exception {
        Path stale = directory.resolve("stale.sock");
        try (ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.bind(UnixDomainSocketAddress.of(stale));
        } // closed: the JDK leaves the file, as a crashed server would
        assertDoctor(ipc("doctor", "unix:" + stale), 1, "PROBLEM  stale socket file: nobody listens on " + stale);
    }

    @Test
    void doctorSaysWhenThisUserMayNotConnect() throws Exception {
        assumeTrue(
                "root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "running as another user needs root and setpriv (util-linux)");
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        String endpoint = serve("unix:" + directory.resolve("private.sock"));
        List<String> command =
                new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        command.addAll(JavaProcesses.command(Main.class.getName(), "doctor", endpoint));
        command.set(command.indexOf("-cp") + 1, readableClassPath());
        CommandRun doctor = run(command, null);
        assertDoctor(doctor, 1, "PROBLEM  permission denied: this user (uid 65534", "mode 0600");
    }

    @Test
    void doctorFlagsAListenerOfAnotherUser() throws Exception {
        assumeTrue(
                "root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "running as another user needs root and setpriv (util-linux)");
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path theirs = Files.createDirectory(directory.resolve("theirs"));
        Files.setAttribute(theirs, "unix:uid", 65534);
        Files.setAttribute(theirs, "unix:gid", 65534);
        List<String> command =
                new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        command.addAll(JavaProcesses.command(
                Main.class.getName(), "serve", "unix:" + theirs.resolve("s.sock") + "?mode=0666&access=anyone"));
        command.set(command.indexOf("-cp") + 1, readableClassPath());
        String endpoint = serve(command);
        assertDoctor(
                ipc("doctor", endpoint),
                1,
                "note     the socket file belongs to uid 65534, neither this user (uid 0) nor root",
                "PROBLEM  unexpected server: the listener on unix:" + theirs.resolve("s.sock") + " runs as uid 65534");
        assertDoctor(
                ipc("doctor", endpoint + "&expectServer=uid:65534"),
                0,
                "note     the listener belongs to uid 65534",
                "it speaks the ipc protocol");
    }

    /** This JVM's class path, copied where any user can read it (root's Maven repository is private). */
    private String readableClassPath() throws IOException {
        Path copy = Files.createDirectory(directory.resolve("classpath"));
        List<String> entries = new ArrayList<>();
        int index = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path source = Path.of(entry);
            if (!Files.exists(source)) {
                continue;
            }
            Path target = copy.resolve(index++ + "-" + source.getFileName());
            try (Stream<Path> files = Files.walk(source)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    Path to = target.resolve(source.relativize(file).toString());
                    if (Files.isDirectory(file)) {
                        Files.createDirectories(to);
                    } else {
                        Files.createDirectories(to.getParent() == null ? copy : to.getParent());
                        Files.copy(file, to);
                    }
                }
            }
            entries.add(target.toString());
        }
        try (Stream<Path> files = Files.walk(copy)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.setPosixFilePermissions(
                        file, PosixFilePermissions.fromString(Files.isDirectory(file) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    @Test
    void doctorSaysAPortIsClosed() throws Exception {
        String closed;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = "tcp://127.0.0.1:" + probe.getLocalPort();
        }
        assertDoctor(ipc("doctor", closed), 1, "PROBLEM  port closed: nothing listens on 127.0.0.1:");
    }

    @Test
    void doctorExplainsASharedSecretMismatch() throws Exception {
        Path secret = directory.resolve("secret");
        Files.writeString(secret, "the right secret, long enough");
        Path wrong = directory.resolve("wrong");
        Files.writeString(wrong, "the wrong secret, long enough");
        for (Path file : List.of(secret, wrong)) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        }
        String endpoint = withoutQuery(serve("tcp://127.0.0.1:0?secretFile=" + secret));
        assertDoctor(ipc("doctor", endpoint + "?secretFile=" + secret), 0, "it speaks the ipc protocol");
        assertDoctor(
                ipc("doctor", endpoint + "?secretFile=" + wrong),
                1,
                "PROBLEM  shared secret:",
                "does not know the shared secret");
        assertDoctor(ipc("doctor", endpoint), 1, "PROBLEM  refused: UNAUTHORIZED", "requires a shared secret");
    }

    @Test
    void doctorExplainsATlsMismatch() throws Exception {
        TestCertificates certificates = TestCertificates.get();
        String endpoint = withoutQuery(serve("tls://localhost:0?" + certificates.query(certificates.serverKeyStore())));
        assertDoctor(
                ipc("doctor", endpoint + "?trustCertificates=" + certificates.caPem()),
                0,
                "certificate CN=localhost",
                "it speaks the ipc protocol");
        assertDoctor(
                ipc("doctor", endpoint + "?trustCertificates=" + certificates.otherCaPem()),
                1,
                "PROBLEM  TLS:",
                "not signed by an authority this client trusts");
        String port = endpoint.substring(endpoint.lastIndexOf(':') + 1);
        assertDoctor(
                ipc("doctor", "tcp://localhost:" + port),
                1,
                "PROBLEM  the port speaks TLS",
                "CN=localhost",
                "connect with tls://localhost:" + port);
    }
}
