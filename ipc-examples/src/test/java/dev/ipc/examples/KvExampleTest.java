package dev.ipc.examples;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.testkit.Background;
import dev.ipc.testkit.CommandRun;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import dev.ipc.testkit.TestCertificates;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example runs as the README shows it: the same launchers, bin/kvd and bin/kv, as real processes, on a socket file,
 * on loopback TCP with a shared secret, and on TLS with client certificates, changing only KV_ENDPOINT.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KvExampleTest {

    private static final Path BIN = Path.of("bin").toAbsolutePath();

    @TempDir(cleanup = CleanupMode.ALWAYS)
    Path directory;

    /** A launcher's process with {@code KV_ENDPOINT} set to {@code endpoint}, or unset when it is empty. */
    private ProcessBuilder launcher(String name, String endpoint, String... args) {
        ProcessBuilder builder = new ProcessBuilder();
        builder.command().add(BIN.resolve(name).toString());
        builder.command().addAll(List.of(args));
        if (endpoint.isEmpty()) {
            builder.environment().remove("KV_ENDPOINT");
            builder.environment().put("XDG_RUNTIME_DIR", directory.toString());
        } else {
            builder.environment().put("KV_ENDPOINT", endpoint);
        }
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment()
                .put("PATH", Path.of(System.getProperty("java.home"), "bin") + ":" + System.getenv("PATH"));
        return builder;
    }

    private CommandRun kv(String endpoint, String input, String... args) throws Exception {
        return CommandRun.of(launcher("kv", endpoint, args), input);
    }

    private static String read(InputStream in) {
        return CommandRun.read(in);
    }

    /** Runs the same session against a daemon on {@code serverEndpoint}, with clients on {@code clientEndpoint}. */
    private void session(String serverEndpoint, String clientEndpoint, String wrongClientEndpoint) throws Exception {
        Process daemon = launcher("kvd", serverEndpoint).start();
        Process watch = null;
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(daemon.getInputStream(), UTF_8));
            String first = Background.call("io", () -> {
                        try {
                            return lines.readLine();
                        } catch (IOException e) {
                            return null;
                        }
                    })
                    .get(60, TimeUnit.SECONDS);
            assertTrue(
                    first != null && first.startsWith("kvd: serving on "),
                    "first line: " + first + "; stderr: " + (first == null ? read(daemon.getErrorStream()) : ""));
            String bound = first.substring("kvd: serving on ".length());
            String client = clientEndpoint.replace("PORT", bound.substring(bound.lastIndexOf(':') + 1));

            // kv watch streams the changes under its prefix as they happen, from another process.
            watch = launcher("kv", client, "watch", "pi").start();
            BufferedReader watched = new BufferedReader(new InputStreamReader(watch.getInputStream(), UTF_8));
            BufferedReader watchErr = new BufferedReader(new InputStreamReader(watch.getErrorStream(), UTF_8));
            String watching = Background.call("io", watchErr::readLine).get(60, TimeUnit.SECONDS);
            assertTrue(watching != null && watching.startsWith("kv: watching pi on "), String.valueOf(watching));

            CommandRun put = kv(client, null, "put", "greeting", "hello");
            assertEquals(0, put.exit, put.toString());
            CommandRun get = kv(client, null, "get", "greeting");
            assertEquals(0, get.exit, get.toString());
            assertEquals("hello", get.out);
            assertEquals("", get.err);
            assertEquals(0, kv(client, "from stdin\n", "put", "piped", "-").exit);
            assertEquals("from stdin\n", kv(client, null, "get", "piped").out);
            assertEquals("greeting\npiped\n", kv(client, null, "list").out);
            CommandRun missing = kv(client, null, "get", "nope");
            assertEquals(1, missing.exit, missing.toString());
            assertEquals("kv: no key nope\n", missing.err);
            assertEquals(0, kv(client, null, "del", "greeting").exit);
            assertEquals("piped\n", kv(client, null, "list").out);
            assertEquals(0, kv(client, null, "del", "piped").exit);
            assertEquals(
                    "put piped from stdin\\n",
                    Background.call("io", watched::readLine).get(30, TimeUnit.SECONDS));
            assertEquals("del piped", Background.call("io", watched::readLine).get(30, TimeUnit.SECONDS));
            CommandRun usage = kv(client, null, "frobnicate");
            assertEquals(2, usage.exit, usage.toString());

            if (wrongClientEndpoint != null) {
                CommandRun refused = kv(
                        wrongClientEndpoint.replace("PORT", bound.substring(bound.lastIndexOf(':') + 1)),
                        null,
                        "get",
                        "piped");
                assertEquals(1, refused.exit, refused.toString());
                assertTrue(
                        refused.err.startsWith("kv: ")
                                && refused.err.strip().lines().count() == 1,
                        "one line that names the cause: " + refused);
            }
            daemon.destroy(); // SIGTERM
            assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "kvd stops on SIGTERM");
            assertEquals(143, daemon.exitValue(), "a JVM ended by SIGTERM after its shutdown hooks exits 128 + 15");
            // The watch ends with the daemon, saying why.
            assertTrue(watch.waitFor(30, TimeUnit.SECONDS), "kv watch ends when kvd stops");
            String why = read(watch.getErrorStream());
            assertEquals(1, watch.exitValue(), why);
            assertTrue(why.contains("shutting down"), why);
        } finally {
            JavaProcesses.reap(daemon);
            if (watch != null) {
                JavaProcesses.reap(watch);
            }
        }
    }

    @Test
    void runsOnASocketFile() throws Exception {
        Path socket = directory.resolve("kv.sock");
        session("unix:" + socket, "unix:" + socket, null);
        assertFalse(Files.exists(socket), "kvd removed its socket file when it stopped");
    }

    @Test
    void runsOnTheRuntimeSocketFileWithoutAnEndpoint() throws Exception {
        Path socket = directory.resolve("kvd/kvd.sock");
        session("", "", null);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent())));
        assertFalse(Files.exists(socket), "kvd removed its socket file when it stopped");
    }

    @Test
    void runsOnLoopbackTcpWithASharedSecret() throws Exception {
        Path secret = directory.resolve("kv.secret");
        Files.writeString(secret, "a shared secret of more than sixteen bytes\n");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        session(
                "tcp://127.0.0.1:0?secretFile=" + secret,
                "tcp://127.0.0.1:PORT?secretFile=" + secret,
                "tcp://127.0.0.1:PORT");
    }

    @Test
    void runsOnTlsWithClientCertificates() throws Exception {
        TestCertificates certificates = TestCertificates.get();
        session(
                "tls://localhost:0?" + certificates.query(certificates.serverKeyStore())
                        + "&clientAuth=required&access=cn:test-client",
                "tls://localhost:PORT?" + certificates.query(certificates.clientKeyStore()),
                "tls://localhost:PORT?trustCertificates=" + certificates.caPem());
    }

    @Test
    void runsOnTheSocketSystemdPassesIt() throws Exception {
        Path activator = Path.of("/usr/bin/systemd-socket-activate");
        Assumptions.assumeTrue(
                Files.isExecutable(activator), "systemd-socket-activate (package systemd) is not installed");
        Path socket = directory.resolve("activated.sock");
        ProcessBuilder builder = launcher("kvd", "systemd:");
        builder.command()
                .addAll(
                        0,
                        List.of(
                                activator.toString(),
                                "-l",
                                socket.toString(),
                                "-E",
                                "KV_ENDPOINT=systemd:",
                                "-E",
                                "PATH=" + builder.environment().get("PATH"),
                                "-E",
                                "JAVA_HOME=" + System.getProperty("java.home")));
        Process daemon = builder.start();
        try {
            // systemd-socket-activate says "Listening on ..." once the socket is bound, and starts kvd when
            // the first client connects.
            BufferedReader activatorLog = new BufferedReader(new InputStreamReader(daemon.getErrorStream(), UTF_8));
            String listening = Background.call("io", () -> {
                        try {
                            return activatorLog.readLine();
                        } catch (IOException e) {
                            return null;
                        }
                    })
                    .get(60, TimeUnit.SECONDS);
            assertTrue(listening != null && listening.startsWith("Listening on"), "activator said: " + listening);
            CommandRun put = kv("unix:" + socket, null, "put", "k", "v");
            assertEquals(0, put.exit, put.toString());
            BufferedReader lines = new BufferedReader(new InputStreamReader(daemon.getInputStream(), UTF_8));
            assertEquals(
                    "kvd: serving on systemd:",
                    Background.call("io", () -> {
                                try {
                                    return lines.readLine();
                                } catch (IOException e) {
                                    return null;
                                }
                            })
                            .get(60, TimeUnit.SECONDS));
            assertEquals("v", kv("unix:" + socket, null, "get", "k").out);
        } finally {
            JavaProcesses.reap(daemon);
        }
    }

    @Test
    void aBadEndpointIsAUsageError() throws Exception {
        Process daemon = launcher("kvd", "tcp://nowhere").start();
        try {
            assertTrue(daemon.waitFor(60, TimeUnit.SECONDS));
            assertEquals(2, daemon.exitValue());
            assertTrue(read(daemon.getErrorStream()).contains("kvd: KV_ENDPOINT: invalid endpoint 'tcp://nowhere'"));
        } finally {
            JavaProcesses.reap(daemon);
        }
    }
}
