package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.Datagram;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.UnexpectedServerException;
import dev.ipc.testkit.CommandRun;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.OtherUser;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code unixgram:} socket file gets what a stream socket file gets: a private directory if missing, refusal of an
 * unsafe one, the lock, the group, and nothing left behind; its datagrams come from the path it was bound at.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UnixDatagramFileTest {

    @TempDir
    Path directory;

    private static String mode(Path path) throws Exception {
        return "0"
                + Integer.toOctalString(
                        (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0777);
    }

    @Test
    void createsAPrivateDirectoryHoldsTheLockAndLeavesNothingBehind() throws Exception {
        Path path = directory.resolve("run/app/log.sock");
        try (DatagramSocket socket = Ipc.bindDatagram(Endpoint.unixgram(path));
                DatagramSocket sender = Ipc.bindDatagram(Endpoint.unixgram(directory.resolve("run/app/s.sock")))) {
            assertEquals("0700", mode(path.getParent()));
            assertEquals("0600", mode(path));
            assertTrue(Files.exists(SocketLock.pathFor(path)), "the lock file is held beside the socket");
            sender.send(socket.localEndpoint(), new byte[] {1});
            assertEquals(
                    Endpoint.unixgram(directory.resolve("run/app/s.sock")),
                    socket.receive().sender().orElseThrow(),
                    "a bound socket sends from the path it was bound at, not from a private directory");
        }
        try (Stream<Path> left = Files.list(path.getParent())) {
            assertEquals(List.of(), left.collect(Collectors.toList()), "nothing left in the directory");
        }
    }

    @Test
    void givesTheFileItsGroupAndRefusesAGroupThatDoesNotExist() throws Exception {
        String group = Files.readAttributes(directory, PosixFileAttributes.class)
                .group()
                .getName();
        Path path = directory.resolve("g.sock");
        try (DatagramSocket socket =
                Ipc.bindDatagram(Endpoint.parse("unixgram:" + path + "?mode=0660&group=" + group))) {
            assertEquals("0660", mode(path));
            assertEquals(
                    group,
                    Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                            .group()
                            .getName());
            try (DatagramSocket client = Ipc.connectDatagram(socket.localEndpoint())) {
                client.send(new byte[] {2});
                assertArrayEquals(new byte[] {2}, socket.receive().payload());
            }
        }
        IllegalArgumentException noGroup = assertThrows(
                IllegalArgumentException.class,
                () -> Ipc.bindDatagram(
                                Endpoint.parse("unixgram:" + directory.resolve("n.sock") + "?group=no-such-group"))
                        .close());
        assertTrue(noGroup.getMessage().contains("no group named 'no-such-group'"), noGroup.getMessage());
        try (Stream<Path> left = Files.list(directory)) {
            assertEquals(List.of(), left.collect(Collectors.toList()), "a failed bind leaves nothing behind");
        }
    }

    @Test
    void withALooseUmaskTheSocketIsBoundPrivatelyFirstSoNobodyCanSendBeforeItsModeIsSet() throws Exception {
        Path shell = Path.of("/bin/sh");
        assumeTrue(Files.isExecutable(shell), "needs /bin/sh to set another process's umask");
        Path path = directory.resolve("loose.sock");
        try (DatagramSocket receiver =
                Ipc.bindDatagram(Endpoint.parse("unixgram:" + directory.resolve("r.sock") + "?readTimeout=30s"))) {
            StringBuilder command = new StringBuilder("umask 000; exec");
            for (String word : JavaProcesses.command(
                    LooseUmaskBinder.class.getName(),
                    path.toString(),
                    receiver.localEndpoint().toString())) {
                command.append(" '").append(word.replace("'", "'\\''")).append('\'');
            }
            Process child = new ProcessBuilder(shell.toString(), "-c", command.toString()).start();
            try {
                Datagram datagram = receiver.receive();
                Endpoint sender = datagram.sender().orElseThrow();
                assertTrue(
                        sender.path().orElseThrow().toString().matches(".*/\\.ipc[0-9a-f]{6}/s"),
                        "bound in a private directory first, so its datagrams come from there: " + sender);
                receiver.send(sender, new byte[] {7});
                assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the other process finished");
                String out = CommandRun.read(child.getInputStream());
                assertEquals(0, child.exitValue(), out + CommandRun.read(child.getErrorStream()));
                assertEquals(
                        List.of("0600", "reply 7"),
                        out.lines().collect(Collectors.toList()),
                        "the mode asked, though the umask would have given 0777; and the reply to the private path "
                                + "arrived");
            } finally {
                JavaProcesses.reap(child);
            }
        }
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "the other process removed its file");
    }

    @Test
    void refusesAnUnsafeDirectory() throws Exception {
        Path open = Files.createDirectory(directory.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        AccessDeniedException worldWritable = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.bindDatagram(Endpoint.unixgram(open.resolve("d.sock")))
                        .close());
        assertTrue(
                worldWritable.getMessage().contains("it may be written by others (mode 0777) and has no sticky bit"),
                worldWritable.getMessage());
        assertFalse(Files.exists(open.resolve("d.sock"), LinkOption.NOFOLLOW_LINKS));

        assumeTrue("root".equals(System.getProperty("user.name")), "changing a directory's owner needs root");
        Path foreign = Files.createDirectory(directory.resolve("foreign"));
        Files.setAttribute(foreign, "unix:uid", 65534);
        AccessDeniedException owned = assertThrows(
                AccessDeniedException.class,
                () -> Ipc.bindDatagram(Endpoint.unixgram(foreign.resolve("d.sock")))
                        .close());
        assertTrue(owned.getMessage().contains("owned by uid 65534"), owned.getMessage());
    }

    /**
     * A client checks who bound the socket file it sends to, as a stream client checks who listens (issue 27, case 7):
     * a socket bound first by uid 65534 is refused before a byte is sent, unless the client says it expects that user.
     */
    @Test
    void aClientRefusesASocketFileAnotherUserBound() throws Exception {
        OtherUser.assumeAvailable();
        Path theirs = Files.createDirectory(directory.resolve("theirs"));
        Files.setAttribute(theirs, "unix:uid", 65534);
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = theirs.resolve("d.sock");
        Process nobody = new ProcessBuilder(OtherUser.python(
                        "-c",
                        "import os, socket, sys\n"
                                + "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                + "s.bind(sys.argv[1])\n"
                                + "os.chmod(sys.argv[1], 0o666)\n"
                                + "print('BOUND', flush=True)\n"
                                + "sys.stdin.read()\n",
                        socket.toString()))
                .redirectErrorStream(true)
                .start();
        try {
            assertEquals("BOUND", new String(nobody.getInputStream().readNBytes(6), UTF_8).strip());
            UnexpectedServerException refused =
                    assertThrows(UnexpectedServerException.class, () -> Ipc.connectDatagram(Endpoint.unixgram(socket)));
            assertTrue(
                    refused.getMessage().contains("uid 65534")
                            && refused.getMessage().contains("expectServer"),
                    refused.getMessage());
            try (DatagramSocket expected =
                    Ipc.connectDatagram(Endpoint.parse("unixgram:" + socket + "?expectServer=uid:65534"))) {
                expected.send(new byte[] {1}); // the user it expects: sent
            }
        } finally {
            nobody.getOutputStream().close();
            assertTrue(nobody.waitFor(30, TimeUnit.SECONDS));
            JavaProcesses.reap(nobody);
            Files.deleteIfExists(socket);
            Files.deleteIfExists(theirs);
        }
    }
}
