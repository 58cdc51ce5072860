package dev.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.IpcOptions.UnixBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IpcOptionsTest {

    @Test
    void hasTheDocumentedDefaults() {
        IpcOptions options = IpcOptions.defaults();
        assertEquals(Duration.ofSeconds(10), options.connectTimeout());
        assertEquals(Duration.ZERO, options.readTimeout());
        assertEquals(Duration.ZERO, options.acceptTimeout());
        assertEquals(4 * 1024 * 1024, options.maxFrameSize());
        assertEquals(511, options.backlog());
        assertEquals(UnixBackend.AUTO, options.unixBackend());
        assertEquals(options, IpcOptions.builder().build());
        assertEquals(options, options.toBuilder().build());
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "maxFrameSize|0|maxFrameSize must be between 1 and 2147483647, was 0",
                "maxFrameSize|-5|maxFrameSize must be between 1 and 2147483647, was -5",
                "backlog|0|backlog must be between 1 and 65535, was 0",
                "backlog|70000|backlog must be between 1 and 65535, was 70000",
                "readTimeout|-1|readTimeout must be zero (none) or positive, was PT-0.001S",
                "connectTimeout|-1|connectTimeout must be zero (none) or positive, was PT-0.001S",
                "acceptTimeout|-1|acceptTimeout must be zero (none) or positive, was PT-0.001S",
            })
    void rejectsValuesOutOfBoundsNamingFieldBoundAndValue(String field, int value, String message) {
        IpcOptions.Builder builder = IpcOptions.builder();
        switch (field) {
            case "maxFrameSize":
                builder.maxFrameSize(value);
                break;
            case "backlog":
                builder.backlog(value);
                break;
            case "readTimeout":
                builder.readTimeout(Duration.ofMillis(value));
                break;
            case "connectTimeout":
                builder.connectTimeout(Duration.ofMillis(value));
                break;
            default:
                builder.acceptTimeout(Duration.ofMillis(value));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
        assertEquals(message, e.getMessage());
    }

    @Test
    void readsOptionsFromTheEndpointQueryOverTheBase() {
        IpcOptions base = IpcOptions.builder()
                .readTimeout(Duration.ofSeconds(1))
                .backlog(7)
                .build();
        Endpoint endpoint = Endpoint.parse("unix:/a.sock?backend=junixsocket&readTimeout=250ms"
                + "&connectTimeout=PT2S&acceptTimeout=1m&maxFrameSize=16MiB&backlog=64");
        IpcOptions options = IpcOptions.fromEndpoint(endpoint, base);
        assertEquals(UnixBackend.JUNIXSOCKET, options.unixBackend());
        assertEquals(Duration.ofMillis(250), options.readTimeout());
        assertEquals(Duration.ofSeconds(2), options.connectTimeout());
        assertEquals(Duration.ofMinutes(1), options.acceptTimeout());
        assertEquals(16 * 1024 * 1024, options.maxFrameSize());
        assertEquals(64, options.backlog());
        assertSame(base, IpcOptions.fromEndpoint(Endpoint.parse("unix:/a.sock"), base));
        assertEquals(
                Duration.ofHours(1),
                IpcOptions.fromEndpoint(Endpoint.parse("tcp://h:1?readTimeout=1h"), base)
                        .readTimeout());
        assertEquals(
                65536,
                IpcOptions.fromEndpoint(Endpoint.parse("tcp://h:1?maxFrameSize=64KiB"), base)
                        .maxFrameSize());
    }

    @Test
    void readsDaemonOptionsFromTheQuery() {
        IpcOptions options = IpcOptions.fromEndpoint(
                Endpoint.parse("unix:/a.sock?mode=0660&group=ops&access=gid:5,6"), IpcOptions.defaults());
        assertEquals(0660, options.socketFileMode());
        assertEquals("ops", options.socketFileGroup().orElseThrow());
        AccessPolicy policy = options.accessPolicy().orElseThrow();
        assertTrue(policy.needsNumericIds());
        assertTrue(policy.permits(PeerCredentials.ofIds(1000, 6, 42)));
        assertTrue(!policy.permits(PeerCredentials.ofIds(1000, 7, 42)));
        assertTrue(!policy.permits(PeerCredentials.ofNames("someone", "ops")), "no gid, no entry");
        assertEquals(
                AccessPolicy.anyone(),
                IpcOptions.fromEndpoint(Endpoint.parse("unix:/a?access=anyone"), IpcOptions.defaults())
                        .accessPolicy()
                        .orElseThrow());
        assertEquals(0600, IpcOptions.defaults().socketFileMode());
        assertTrue(IpcOptions.defaults().accessPolicy().isEmpty(), "the transport's default applies");
    }

    @Test
    void socketFileModeMustKeepTheOwnersAccess() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> IpcOptions.builder().socketFileMode(0060).build());
        assertEquals("socketFileMode must let the owner read and write (0600), was 060", e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> IpcOptions.builder().socketFileMode(01777).build());
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "unix:/a?mode=rw|mode must be three octal digits",
                "unix:/a?mode=0800|mode must be three octal digits",
                "unix:/a?access=friends|access must be same-user, anyone, uid:N[,N...], gid:N[,N...] "
                        + "or cn:NAME[,NAME...]",
                "unix:/a?access=uid:|access must be same-user",
                "unix:/a?colour=blue|unknown option 'colour'",
                "unix:/a?backend=netty|backend must be auto, jdk or junixsocket, was 'netty'",
                "unix:/a?readTimeout=soon|'soon' is not a duration",
                "unix:/a?readTimeout=5|'5' is not a duration",
                "unix:/a?readTimeout=-5s|readTimeout must be zero (none) or positive",
                "unix:/a?maxFrameSize=big|'big' is not a size",
                "unix:/a?maxFrameSize=0|maxFrameSize must be between 1 and 2147483647, was 0",
                "unix:/a?maxFrameSize=4GiB|is over 2147483647",
                "unix:/a?backlog=99999|backlog must be between 1 and 65535, was 99999",
            })
    void rejectsBadQueryOptionsNamingTheEndpoint(String text, String reason) {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> IpcOptions.fromEndpoint(Endpoint.parse(text), IpcOptions.defaults()));
        assertTrue(e.getMessage().contains(text), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test
    void readsTlsAndSecretSettingsFromTheQuery() {
        IpcOptions options = IpcOptions.fromEndpoint(
                Endpoint.parse("tls://0.0.0.0:7000?keyStore=/etc/app/server.p12"
                        + "&keyStorePasswordFile=/etc/app/p12.pass&trustCertificates=/etc/app/ca.pem"
                        + "&clientAuth=required"
                        + "&secretEnv=APP_SECRET&access=cn:backup,web"),
                IpcOptions.defaults());
        TlsOptions tls = options.tls();
        assertEquals(Path.of("/etc/app/server.p12"), tls.keyStore().orElseThrow());
        assertEquals(
                Secret.fromFile(Path.of("/etc/app/p12.pass")),
                tls.keyStorePassword().orElseThrow());
        assertEquals(Path.of("/etc/app/ca.pem"), tls.trustCertificates().orElseThrow());
        assertEquals(TlsOptions.ClientAuth.REQUIRED, tls.clientAuth());
        assertEquals(Secret.fromEnv("APP_SECRET"), options.secret().orElseThrow());
        AccessPolicy access = options.accessPolicy().orElseThrow();
        assertTrue(access.permits(PeerCredentials.ofPrincipal("CN=backup,O=Example")));
        assertTrue(!access.permits(PeerCredentials.ofPrincipal("CN=intruder,O=Example")));
        assertTrue(!access.permits(PeerCredentials.unknown()));
        assertTrue(!options.toString().contains("APP_SECRET=")
                && options.toString().contains("$APP_SECRET"));
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "tcp://127.0.0.1:1?secret=hunter2hunter2hunter2|never written in the endpoint",
                "tls://h:1?clientAuth=sometimes|clientAuth must be none, want or required",
                "tls://h:1?certificate=/a.pem|certificate and privateKey go together",
                "tls://h:1?keyStore=/a.p12&certificate=/a.pem&privateKey=/a.key|either as keyStore or as certificate",
                "tls://h:1?trustStorePasswordEnv=X|trustStorePassword is set but trustStore is not",
                "tcp://127.0.0.1:1?secretEnv=NOT-A-NAME|environment variable name",
                "tcp://127.0.0.1:1?allowInsecurePlaintext=yes|must be true or false",
            })
    void rejectsBadSecuritySettingsNamingTheEndpoint(String text, String reason) {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> IpcOptions.fromEndpoint(Endpoint.parse(text), IpcOptions.defaults()));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(!e.getMessage().contains("hunter2") || e.getMessage().contains("endpoint '"), e.getMessage());
    }

    @Test
    void readsASecretFileButRefusesOneOthersCanRead(@TempDir Path directory) throws IOException {
        Path file = directory.resolve("secret");
        Files.writeString(file, "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertEquals(
                "0123456789abcdef0123456789abcdef",
                new String(Secret.fromFile(file).read(), StandardCharsets.UTF_8),
                "the trailing line break is not part of it");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        IOException open =
                assertThrows(IOException.class, () -> Secret.fromFile(file).read());
        assertTrue(
                open.getMessage().contains(file.toString()) && open.getMessage().contains("chmod 600"),
                open.getMessage());
        IOException missing = assertThrows(
                IOException.class,
                () -> Secret.fromFile(directory.resolve("nope")).read());
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        IOException unset = assertThrows(
                IOException.class,
                () -> Secret.fromEnv("IPC_TEST_SURELY_UNSET_VARIABLE").read());
        assertTrue(unset.getMessage().contains("IPC_TEST_SURELY_UNSET_VARIABLE is not set"), unset.getMessage());
    }
}
