package dev.ipc.reliability;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.RemoteException;
import dev.ipc.internal.UnixPaths;
import dev.ipc.testkit.Background;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.LogCapture;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Connections that connect and say nothing (no HELLO, no proof of the secret) must not keep out a client that finishes
 * its handshake at once: 600 of them beside a good client on TCP with a shared secret, 1,100 (more than maxConnections)
 * on plain TCP, and 600 of another user (uid 65534) on a socket file. They are given a minute (handshakeTimeout 60 s),
 * so only the limit on unfinished connections (maxHandshakes) can make room for the good client; before it, the first
 * case waited for the silent ones' handshakes to time out and the others were refused.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CrowdTest extends OnEachTransport {

    private static final int GOOD_CALLS = 20;
    private static final byte[] HELLO = {0, 0, 0, 6, 1, 'I', 'P', 'C', 0, 2};

    @ParameterizedTest
    @CsvSource({"secret, 600", "plain, 1100"})
    void silentConnectionsDoNotKeepOutAClientThatSpeaks(String setup, int silent) throws Exception {
        Endpoint endpoint = Endpoint.tcp("127.0.0.1", 0).withParameter("handshakeTimeout", "60s");
        if (setup.equals("secret")) {
            Path secret = directory.resolve("secret");
            Files.writeString(secret, "a shared secret of more than sixteen bytes\n");
            Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
            endpoint = endpoint.withParameter("secretFile", secret.toString());
        }
        List<SocketChannel> crowd = new ArrayList<>();
        try (LogCapture log = LogCapture.start();
                IpcServer server = echo(endpoint)) {
            Endpoint bound = server.endpoint().withParameter("handshakeTimeout", "10s");
            long alone = goodCalls(bound)[GOOD_CALLS / 2];
            InetSocketAddress address =
                    new InetSocketAddress("127.0.0.1", server.endpoint().port());
            for (int i = 0; i < silent; i++) {
                crowd.add(SocketChannel.open(address));
            }
            long[] beside = goodCalls(bound);
            report("tcp " + setup, silent, alone, beside);
            // What a user must act on is a warning, once a minute at most, not a line per connection.
            String warning = log.await(Duration.ofSeconds(10), "WARN", "pushed out before finishing their handshake");
            assertTrue(warning.contains("maxHandshakes 128"), warning);
        } finally {
            closeAll(crowd);
            Files.deleteIfExists(directory.resolve("secret"));
        }
    }

    /**
     * 1,024 connections that say HELLO and then nothing held every place of a TCP server (issue 27, case 9); now each
     * limit makes room: the connections past the peer's 512 are refused, and once the others have been idle for two
     * seconds a newcomer that says HELLO takes the place of the one idle longest, and is served.
     */
    @Test
    void idleConnectionsPastTheirHelloGiveWayToANewcomer() throws Exception {
        List<SocketChannel> crowd = new ArrayList<>();
        try (IpcServer server = echo(Endpoint.tcp("127.0.0.1", 0))) {
            InetSocketAddress address =
                    new InetSocketAddress("127.0.0.1", server.endpoint().port());
            for (int i = 0; i < 1024; i++) {
                SocketChannel idle = SocketChannel.open(address);
                idle.write(ByteBuffer.wrap(HELLO));
                crowd.add(idle);
            }
            long started = System.nanoTime();
            IpcClient newcomer = null;
            int refused = 0;
            while (newcomer == null) {
                try {
                    newcomer = IpcClient.connect(server.endpoint());
                } catch (RemoteException e) {
                    assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, e.code(), e.getMessage());
                    assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(30), "no place in 30 s");
                    refused++;
                    TimeUnit.MILLISECONDS.sleep(100); // as a client retrying would
                }
            }
            try (IpcClient client = newcomer) {
                assertArrayEquals("in".getBytes(UTF_8), client.call("in".getBytes(UTF_8)));
            }
            System.out.printf(
                    Locale.ROOT,
                    "RELIABILITY crowd tcp, 1024 idle past their HELLO: a newcomer was served after %.2f s (%d refusals"
                            + " while none had been idle 2 s); connections held %d%n",
                    (System.nanoTime() - started) / 1e9,
                    refused,
                    server.stats().connectionsOpen());
        } finally {
            closeAll(crowd);
        }
    }

    /**
     * Another user floods a socket file anyone may connect to: its connections give way to each other, and neither this
     * user's connection that was waiting before the flood (the oldest of all) nor a new one is pushed out.
     */
    @Test
    void anotherUsersSilentConnectionsPushOutOnlyTheirOwn() throws Exception {
        assumeTrue(
                UnixPaths.ownUid().orElse(-1) == 0 && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "switching to uid 65534 needs root and setpriv (util-linux)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "the other user's crowd is a python3 script");
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = directory.resolve("s.sock");
        Endpoint endpoint = Endpoint.unix(socket)
                .withParameter("mode", "0666")
                .withParameter("access", "anyone")
                .withParameter("handshakeTimeout", "60s")
                .withParameter("maxConnections", "300");
        Process crowd = null;
        try (IpcServer server = echo(endpoint);
                SocketChannel waiting = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            Endpoint bound = server.endpoint().withParameter("handshakeTimeout", "10s");
            long alone = goodCalls(bound)[GOOD_CALLS / 2];
            waiting.connect(UnixDomainSocketAddress.of(socket)); // this user's, connected, its HELLO not yet sent
            crowd = new ProcessBuilder(
                            "/usr/bin/setpriv",
                            "--reuid=65534",
                            "--regid=65534",
                            "--clear-groups",
                            "/usr/bin/python3",
                            "-c",
                            "import socket, sys\n"
                                    + "held = []\n"
                                    + "for _ in range(600):\n"
                                    + "    s = socket.socket(socket.AF_UNIX)\n"
                                    + "    s.connect(sys.argv[1])\n"
                                    + "    held.append(s)\n"
                                    + "print('HELD', flush=True)\n"
                                    + "sys.stdin.read()\n",
                            socket.toString())
                    .redirectErrorStream(true)
                    .start();
            BufferedReader lines = new BufferedReader(new InputStreamReader(crowd.getInputStream(), UTF_8));
            assertEquals("HELD", Background.call("crowd", lines::readLine).get(60, TimeUnit.SECONDS));
            long[] beside = goodCalls(bound);
            // The connection that waited through the flood was not pushed out: it says HELLO now and is welcomed.
            waiting.write(ByteBuffer.wrap(HELLO));
            ByteBuffer welcome = ByteBuffer.allocate(5);
            while (welcome.hasRemaining() && waiting.read(welcome) >= 0) {
                // reads the length and the type
            }
            assertEquals(2, welcome.get(4), "a WELCOME (type 2), not an ERROR: " + Arrays.toString(welcome.array()));
            report("unix, uid 65534's crowd", 600, alone, beside);
        } finally {
            if (crowd != null) {
                crowd.getOutputStream().close();
                JavaProcesses.reap(crowd);
            }
        }
    }

    private static IpcServer echo(Endpoint endpoint) throws IOException {
        return IpcServer.builder(endpoint).handler(request -> request).build().start();
    }

    /** {@value #GOOD_CALLS} new clients, each connecting and making one call; their times, in microseconds, sorted. */
    private static long[] goodCalls(Endpoint endpoint) throws IOException {
        long[] micros = new long[GOOD_CALLS];
        for (int i = 0; i < GOOD_CALLS; i++) {
            byte[] call = ("good " + i).getBytes(UTF_8);
            long started = System.nanoTime();
            try (IpcClient client = IpcClient.connect(endpoint)) {
                assertArrayEquals(call, client.call(call), "the good client is served");
            }
            micros[i] = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - started);
        }
        Arrays.sort(micros);
        return micros;
    }

    private static void report(String what, int silent, long alone, long[] beside) {
        System.out.printf(
                Locale.ROOT,
                "RELIABILITY crowd %s: connect and one call p50 %.2f ms alone; beside %d silent connections"
                        + " p50 %.2f ms, max %.2f ms (%d calls, all answered)%n",
                what,
                alone / 1000.0,
                silent,
                beside[GOOD_CALLS / 2] / 1000.0,
                beside[GOOD_CALLS - 1] / 1000.0,
                GOOD_CALLS);
    }

    private static void closeAll(List<SocketChannel> channels) throws IOException {
        for (SocketChannel channel : channels) {
            channel.close();
        }
    }
}
