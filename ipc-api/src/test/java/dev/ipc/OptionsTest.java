package dev.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.ConnectionOptions.UnixBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OptionsTest {

    @Test
    void hasTheDocumentedDefaults() {
        ConnectionOptions options = ConnectionOptions.defaults();
        assertEquals(Duration.ofSeconds(10), options.get(ConnectionOptions.CONNECT_TIMEOUT));
        assertEquals(Duration.ZERO, options.get(ConnectionOptions.READ_TIMEOUT));
        assertEquals(Duration.ZERO, options.get(ConnectionOptions.ACCEPT_TIMEOUT));
        assertEquals(4 * 1024 * 1024, options.get(ConnectionOptions.MAX_FRAME_SIZE));
        assertEquals(511, options.get(ConnectionOptions.BACKLOG));
        assertEquals(UnixBackend.AUTO, options.get(ConnectionOptions.BACKEND));
        assertEquals(128, ServerOptions.defaults().get(ServerOptions.MAX_IN_FLIGHT));
        assertEquals(Duration.ofSeconds(30), ClientOptions.defaults().get(ClientOptions.CALL_TIMEOUT));
        assertEquals(options, ConnectionOptions.builder().build());
        assertEquals(options, options.toBuilder().build());
        assertEquals("ConnectionOptions{}", options.toString());
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
        Option<?> option = ConnectionOptions.TABLE.stream()
                .filter(candidate -> candidate.name().equals(field))
                .findFirst()
                .orElseThrow();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> set(option, value));
        assertEquals(message, e.getMessage());
    }

    @SuppressWarnings("unchecked")
    private static void set(Option<?> option, int value) {
        ConnectionOptions.Builder builder = ConnectionOptions.builder();
        if (option.type() == Duration.class) {
            builder.set((Option<Duration>) option, Duration.ofMillis(value));
        } else {
            builder.set((Option<Integer>) option, value);
        }
    }

    @Test
    void aQueryKeyOfTheOtherEndIsLeftToIt() {
        // One string names both ends: a client leaves the server's keys to it, and the reverse.
        Endpoint endpoint = Endpoint.parse("unix:/a.sock?maxInFlight=8&callTimeout=2s&mode=0660&connectTimeout=1s");
        ClientOptions client = ClientOptions.builder().query(endpoint).build();
        assertEquals(Duration.ofSeconds(2), client.get(ClientOptions.CALL_TIMEOUT));
        assertEquals(Duration.ofSeconds(1), client.get(ConnectionOptions.CONNECT_TIMEOUT));
        ServerOptions server = ServerOptions.builder().query(endpoint).build();
        assertEquals(8, server.get(ServerOptions.MAX_IN_FLIGHT));
        assertEquals(0660, server.get(ConnectionOptions.MODE));
        assertEquals("ServerOptions{maxInFlight=8, mode=432}", server.toString());
    }

    @Test
    void eachKindTakesOnlyTheOptionsItsReaderHonours() {
        IllegalArgumentException server = assertThrows(
                IllegalArgumentException.class,
                () -> ServerOptions.builder().set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(1)));
        assertEquals(
                "readTimeout is an option of Ipc.listen, Ipc.connect, Ipc.bindDatagram and Ipc.connectDatagram "
                        + "(ConnectionOptions); ServerOptions does not "
                        + "take it",
                server.getMessage());
        IllegalArgumentException client = assertThrows(
                IllegalArgumentException.class, () -> ClientOptions.defaults().get(ServerOptions.MAX_IN_FLIGHT));
        assertEquals(
                "maxInFlight is an option of IpcServer (ServerOptions); ClientOptions does not take it",
                client.getMessage());
        assertEquals(
                64,
                ServerOptions.builder()
                        .connection(ConnectionOptions.builder()
                                .set(ConnectionOptions.BACKLOG, 64)
                                .set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(1))
                                .build())
                        .build()
                        .get(ConnectionOptions.BACKLOG),
                "a server takes the listener's options it honours, and leaves out the rest");
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "listen|unix:/a.sock?callTimeout=5s|callTimeout is an option of IpcClient (ClientOptions); "
                        + "Ipc.listen does not take it",
                "connect|unix:/a.sock?maxInFlight=5|maxInFlight is an option of IpcServer (ServerOptions); "
                        + "Ipc.connect does not take it",
                "connect|unix:/a.sock?reconnectTimeout=5s|reconnectTimeout is an option of IpcClient "
                        + "(ClientOptions); Ipc.connect does not take it",
                "server|unix:/a.sock?readTimeout=5s|readTimeout is an option of Ipc.listen, Ipc.connect, "
                        + "Ipc.bindDatagram and Ipc.connectDatagram "
                        + "(ConnectionOptions); IpcServer does not take it",
                "client|unix:/a.sock?acceptTimeout=5s|acceptTimeout is an option of Ipc.listen "
                        + "(ConnectionOptions); IpcClient does not take it",
                "listen|tcp://127.0.0.1:1?mode=0660|mode is an option of unix: and unixgram: endpoints only; "
                        + "tcp: endpoints do "
                        + "not take it",
                "connect|unix:/a.sock?trustCertificates=/ca.pem|trustCertificates is an option of tls: endpoints "
                        + "only; unix: endpoints do not take it",
            })
    void refusesAQueryKeyItsReaderDoesNotHonourSayingWhoTakesIt(String reader, String text, String message) {
        Endpoint endpoint = Endpoint.parse(text);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            switch (reader) {
                case "listen":
                    Ipc.listen(endpoint).close();
                    break;
                case "connect":
                    Ipc.connect(endpoint).close();
                    break;
                case "server":
                    IpcServer.builder(endpoint).handler(request -> request).build();
                    break;
                default:
                    IpcClient.connect(endpoint).close();
            }
        });
        assertEquals("endpoint '" + text + "': " + message, e.getMessage());
    }

    @Test
    void readsOptionsFromTheEndpointQueryOverTheBase() {
        ConnectionOptions base = ConnectionOptions.builder()
                .set(ConnectionOptions.READ_TIMEOUT, Duration.ofSeconds(1))
                .set(ConnectionOptions.BACKLOG, 7)
                .build();
        Endpoint endpoint = Endpoint.parse("unix:/a.sock?backend=junixsocket&readTimeout=250ms"
                + "&connectTimeout=PT2S&acceptTimeout=1m&maxFrameSize=16MiB&backlog=64");
        ConnectionOptions options = base.toBuilder().query(endpoint).build();
        assertEquals(UnixBackend.JUNIXSOCKET, options.get(ConnectionOptions.BACKEND));
        assertEquals(Duration.ofMillis(250), options.get(ConnectionOptions.READ_TIMEOUT));
        assertEquals(Duration.ofSeconds(2), options.get(ConnectionOptions.CONNECT_TIMEOUT));
        assertEquals(Duration.ofMinutes(1), options.get(ConnectionOptions.ACCEPT_TIMEOUT));
        assertEquals(16 * 1024 * 1024, options.get(ConnectionOptions.MAX_FRAME_SIZE));
        assertEquals(64, options.get(ConnectionOptions.BACKLOG));
        assertEquals(
                base, base.toBuilder().query(Endpoint.parse("unix:/a.sock")).build());
        assertEquals(
                Duration.ofHours(1),
                base.toBuilder()
                        .query(Endpoint.parse("tcp://h:1?readTimeout=1h"))
                        .build()
                        .get(ConnectionOptions.READ_TIMEOUT));
        assertEquals(
                65536,
                base.toBuilder()
                        .query(Endpoint.parse("tcp://h:1?maxFrameSize=64KiB"))
                        .build()
                        .get(ConnectionOptions.MAX_FRAME_SIZE));
    }

    @Test
    void readsDaemonOptionsFromTheQuery() {
        ConnectionOptions options = ConnectionOptions.defaults().toBuilder()
                .query(Endpoint.parse("unix:/a.sock?mode=0660&group=ops&access=gid:5,6"))
                .build();
        assertEquals(0660, options.get(ConnectionOptions.MODE));
        assertEquals("ops", options.find(ConnectionOptions.GROUP).orElseThrow());
        AccessPolicy policy = options.find(ConnectionOptions.ACCESS).orElseThrow();
        assertTrue(policy.needsNumericIds());
        assertTrue(policy.permits(PeerCredentials.ofIds(1000, 6, 42)));
        assertTrue(!policy.permits(PeerCredentials.ofIds(1000, 7, 42)));
        assertTrue(!policy.permits(PeerCredentials.ofNames("someone", "ops")), "no gid, no entry");
        assertEquals(
                AccessPolicy.anyone(),
                ConnectionOptions.defaults().toBuilder()
                        .query(Endpoint.parse("unix:/a?access=anyone"))
                        .build()
                        .find(ConnectionOptions.ACCESS)
                        .orElseThrow());
        assertEquals(0600, ConnectionOptions.defaults().get(ConnectionOptions.MODE));
        assertTrue(ConnectionOptions.defaults().find(ConnectionOptions.ACCESS).isEmpty(), "the transport's default");
    }

    @Test
    void socketFileModeMustKeepTheOwnersAccess() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ConnectionOptions.builder()
                        .set(ConnectionOptions.MODE, 0060)
                        .build());
        assertEquals(
                "mode must be between 0600 and 0777 and let the owner read and write (0600), was 060", e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> ConnectionOptions.builder()
                        .set(ConnectionOptions.MODE, 01777)
                        .build());
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
                () -> ConnectionOptions.defaults().toBuilder()
                        .query(Endpoint.parse(text))
                        .build());
        assertTrue(e.getMessage().contains(text), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test
    void readsTlsAndSecretSettingsFromTheQuery() {
        ConnectionOptions options = ConnectionOptions.defaults().toBuilder()
                .query(Endpoint.parse("tls://0.0.0.0:7000?keyStore=/etc/app/server.p12"
                        + "&keyStorePasswordFile=/etc/app/p12.pass&trustCertificates=/etc/app/ca.pem"
                        + "&clientAuth=required"
                        + "&secretEnv=APP_SECRET&access=cn:backup,web"))
                .build();
        assertEquals(
                Path.of("/etc/app/server.p12"),
                options.find(TlsOptions.KEY_STORE).orElseThrow());
        assertEquals(
                Secret.fromFile(Path.of("/etc/app/p12.pass")),
                options.find(TlsOptions.KEY_STORE_PASSWORD).orElseThrow());
        assertEquals(
                Path.of("/etc/app/ca.pem"),
                options.find(TlsOptions.TRUST_CERTIFICATES).orElseThrow());
        assertEquals(TlsOptions.ClientAuth.REQUIRED, options.get(TlsOptions.CLIENT_AUTH));
        assertEquals(
                Secret.fromEnv("APP_SECRET"),
                options.find(ConnectionOptions.SECRET).orElseThrow());
        AccessPolicy access = options.find(ConnectionOptions.ACCESS).orElseThrow();
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
                () -> ConnectionOptions.defaults().toBuilder()
                        .query(Endpoint.parse(text))
                        .build());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(!e.getMessage().contains("hunter2") || e.getMessage().contains("endpoint '"), e.getMessage());
    }

    @Test
    void followsASecretSymlinkToAPrivateFileButRefusesAnotherUsersFile(@TempDir Path directory) throws IOException {
        // The layout orchestrators mount: a link to a private file elsewhere.
        Path real = directory.resolve("..data-1");
        Files.writeString(real, "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(real, PosixFilePermissions.fromString("rw-------"));
        Path link = Files.createSymbolicLink(directory.resolve("secret"), real);
        assertEquals(
                "0123456789abcdef0123456789abcdef",
                new String(Secret.fromFile(link).read(), StandardCharsets.UTF_8),
                "followed, though the link itself is mode 0777");
        Files.setPosixFilePermissions(real, PosixFilePermissions.fromString("rw-r--r--"));
        IOException open =
                assertThrows(IOException.class, () -> Secret.fromFile(link).read());
        assertTrue(
                open.getMessage().contains("(" + real + ") is open to other users (mode 0644)")
                        && open.getMessage().contains("chmod 600 " + real),
                "names the file the link leads to, and a chmod that fixes it: " + open.getMessage());
        Files.delete(real);
        IOException dangling =
                assertThrows(IOException.class, () -> Secret.fromFile(link).read());
        assertTrue(dangling.getMessage().contains("a symbolic link to nothing"), dangling.getMessage());

        long own = ((Number) Files.getAttribute(directory, "unix:uid")).longValue();
        assumeTrue(own == 0, "making a file of another user's needs root");
        Path theirs = directory.resolve("theirs");
        Files.writeString(theirs, "0123456789abcdef0123456789abcdef");
        Files.setPosixFilePermissions(theirs, PosixFilePermissions.fromString("rw-------"));
        Files.setAttribute(theirs, "unix:uid", 65534);
        IOException foreign =
                assertThrows(IOException.class, () -> Secret.fromFile(theirs).read());
        assertTrue(
                foreign.getMessage().contains("belongs to uid 65534, neither this user (uid 0) nor root"),
                foreign.getMessage());
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

    @Test
    void theTableIsConsistent() {
        Set<String> names = new HashSet<>();
        Set<String> keys = new HashSet<>();
        for (Option<?> option : OptionSet.all()) {
            assertTrue(names.add(option.name()), "two options named " + option.name());
            for (String key : option.keys()) {
                assertTrue(keys.add(key), "two options read the query key " + key);
            }
            assertTrue(
                    option.description().endsWith(".") && option.description().length() <= 70,
                    option + "'s one-line doc: " + option.description());
            assertTrue(!option.scopes().isEmpty(), option + " is honoured by nobody");
        }
    }

    @Test
    void contradictingTlsSettingsAreRefusedWhenBuilt() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> ClientOptions.builder()
                        .set(TlsOptions.CERTIFICATE, Path.of("/client.pem"))
                        .build());
        assertEquals(
                "certificate and privateKey go together: certificate is set but privateKey is not", e.getMessage());
        assertEquals(
                Path.of("/client.key"),
                ClientOptions.builder()
                        .set(TlsOptions.CERTIFICATE, Path.of("/client.pem"))
                        .set(TlsOptions.PRIVATE_KEY, Path.of("/client.key"))
                        .build()
                        .get(TlsOptions.PRIVATE_KEY));
    }

    /** The README's options table is the option table, rendered; this test says what to paste when they differ. */
    @Test
    void theReadmeOptionsTableIsTheOptionTable() throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        String begin = "<!-- options: rendered from the option table; OptionsTest checks it -->\n";
        String end = "<!-- end of options -->";
        assertTrue(readme.contains(begin) && readme.contains(end), "README.md has no options table markers");
        String documented = readme.substring(readme.indexOf(begin) + begin.length(), readme.indexOf(end));
        StringBuilder expected = new StringBuilder("| key | taken by | default | meaning |\n|---|---|---|---|\n");
        for (Option<?> option : OptionSet.all()) {
            expected.append("| ")
                    .append(
                            option.keys().isEmpty()
                                    ? "(in code: `" + option.name() + "`)"
                                    : option.keys().stream()
                                            .map(key -> "`" + key + "`")
                                            .collect(Collectors.joining(", ")))
                    .append(" | ")
                    .append(option.scopes().stream()
                            .sorted()
                            .map(Option.Scope::reader)
                            .collect(Collectors.joining(", ")))
                    .append(
                            option.schemes().isEmpty()
                                    ? ""
                                    : option.schemes().stream()
                                            .map(scheme -> scheme + ":")
                                            .collect(Collectors.joining(", ", " (", " only)")))
                    .append(" | ")
                    .append(option.defaultValue()
                            .map(value -> option == ConnectionOptions.MODE
                                    ? "0" + Integer.toOctalString((Integer) value)
                                    : render(value))
                            .orElse("none"))
                    .append(" | ")
                    .append(option.description())
                    .append(" |\n");
        }
        assertEquals(expected.toString(), documented, "README.md's options table; paste this:\n" + expected);
    }

    private static String render(Object value) {
        if (value instanceof Duration) {
            Duration duration = (Duration) value;
            return duration.isZero()
                    ? "none"
                    : duration.toMillis() == 0
                            ? duration.toNanos() / 1000 + " µs"
                            : duration.toSeconds() == 0 ? duration.toMillis() + " ms" : duration.toSeconds() + " s";
        }
        if (value instanceof Integer && (Integer) value >= 1024 * 1024 && (Integer) value % (1024 * 1024) == 0) {
            return (Integer) value / (1024 * 1024) + " MiB";
        }
        if (value instanceof Enum) {
            return ((Enum<?>) value).name().toLowerCase(Locale.ROOT);
        }
        return String.valueOf(value);
    }
}
