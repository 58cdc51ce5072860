package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.ConnectionOptions;
import dev.ipc.Datagram;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.testkit.CommandRun;
import dev.ipc.testkit.LeakGate;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unix datagram endpoints against the tools people point at them: util-linux {@code logger} (what syslog clients send)
 * and {@code socat}, in both directions. UDP's are in ipc-tcp's {@code UdpInteropTest}.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DatagramInteropTest {

    private static final Path LOGGER = Path.of("/usr/bin/logger");
    private static final Path SOCAT = Path.of("/usr/bin/socat");

    @TempDir
    Path directory;

    private static DatagramOptions receiving() {
        return DatagramOptions.builder()
                .set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(20))
                .build();
    }

    private static void assumeInstalled(Path tool, String pkg) {
        assumeTrue(Files.isExecutable(tool), tool + " is not installed (Debian package " + pkg + ")");
    }

    @Test
    void loggerSendsASyslogLineToTheSocketFile() throws Exception {
        assumeInstalled(LOGGER, "bsdutils");
        Endpoint endpoint = Endpoint.unixgram(directory.resolve("log.sock"));
        try (DatagramSocket socket = Ipc.bindDatagram(endpoint, receiving())) {
            CommandRun logger = CommandRun.of(
                    new ProcessBuilder(
                            LOGGER.toString(),
                            "--socket-errors=on",
                            "-d",
                            "-u",
                            endpoint.path().orElseThrow().toString(),
                            "-t",
                            "ipc-test",
                            "a line for the log, with ünïcode"),
                    "");
            assertEquals(0, logger.exit, logger.toString());
            Datagram datagram = socket.receive();
            String line = new String(datagram.payload(), UTF_8);
            assertTrue(line.startsWith("<13>"), "a syslog priority (user.notice) opens the line: " + line);
            assertTrue(line.endsWith("ipc-test: a line for the log, with ünïcode"), line);
            assertTrue(datagram.sender().isEmpty(), "logger sends from an unbound socket");
        }
    }

    @Test
    void socatSendsBytesIntactToAFileAndAnAbstractName() throws Exception {
        assumeInstalled(SOCAT, "socat");
        byte[] payload = new byte[4000];
        new Random(18).nextBytes(payload);
        Path input = directory.resolve("payload.bin");
        Files.write(input, payload);
        String abstractName = "ipc-socat-" + ProcessHandle.current().pid();
        Endpoint[] endpoints = {
            Endpoint.unixgram(directory.resolve("in.sock")),
            Endpoint.parse("unixgram:@" + abstractName + "?access=anyone")
        };
        for (Endpoint endpoint : endpoints) {
            try (DatagramSocket socket = Ipc.bindDatagram(endpoint, receiving())) {
                Endpoint bound = socket.localEndpoint();
                String target = bound.isAbstract()
                        ? "ABSTRACT-SENDTO:" + abstractName
                        : "UNIX-SENDTO:" + bound.path().orElseThrow();
                CommandRun socat =
                        CommandRun.of(new ProcessBuilder(SOCAT.toString(), "-u", "OPEN:" + input, target), "");
                assertEquals(0, socat.exit, socat.toString());
                assertArrayEquals(payload, socket.receive().payload(), "from socat to " + bound);
            }
        }
    }

    @Test
    void theLibrarySendsToADatagramSocketSocatListensOn() throws Exception {
        assumeInstalled(SOCAT, "socat");
        Path path = directory.resolve("socat.sock");
        Process socat = new ProcessBuilder(SOCAT.toString(), "-u", "UNIX-RECV:" + path, "STDOUT").start();
        try {
            awaitSocketFile(path, socat);
            try (DatagramSocket socket = Ipc.connectDatagram(Endpoint.unixgram(path))) {
                socket.send("to socat\n".getBytes(UTF_8));
            }
            byte[] expected = "to socat\n".getBytes(UTF_8);
            byte[] read = socat.getInputStream().readNBytes(expected.length);
            assertArrayEquals(expected, read, new String(read, UTF_8));
        } finally {
            socat.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            Files.deleteIfExists(path);
        }
    }

    @Test
    void anAbstractNameMustSayAnyoneMaySend() {
        Endpoint endpoint = Endpoint.unixgramAbstract(
                "ipc-refused-" + ProcessHandle.current().pid());
        IllegalArgumentException silent =
                assertThrows(IllegalArgumentException.class, () -> Ipc.bindDatagram(endpoint));
        assertTrue(silent.getMessage().contains("say access=anyone"), silent.getMessage());
        IllegalArgumentException sameUser = assertThrows(
                IllegalArgumentException.class, () -> Ipc.bindDatagram(Endpoint.parse(endpoint + "?access=same-user")));
        assertTrue(sameUser.getMessage().contains("datagrams carry no credentials"), sameUser.getMessage());
    }

    /** Waits, at most 20 s, for another process to bind its socket file; fails at once if it exits. */
    private static void awaitSocketFile(Path path, Process process) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!process.isAlive()) {
                throw new AssertionError("socat exited (" + process.exitValue() + "): "
                        + new String(process.getErrorStream().readAllBytes(), UTF_8));
            }
            assertTrue(System.nanoTime() < deadline, "socat did not bind " + path + " within 20 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }
}
