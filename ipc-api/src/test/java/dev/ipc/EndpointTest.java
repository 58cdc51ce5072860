package dev.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class EndpointTest {

    @ParameterizedTest
    @ValueSource(
            strings = {
                "unix:/run/app/app.sock",
                "unix:app.sock",
                "unix:./@odd.sock",
                "unix:@name",
                "unix:@with space",
                "unix:/tmp/a b.sock",
                "unix:/tmp/pct%25and%3Fquestion.sock",
                "unix:/run/app.sock?mode=0660",
                "unix:/run/a.sock?backend=junixsocket&readTimeout=5s",
                "tcp://127.0.0.1:4477",
                "tcp://[::1]:4477",
                "tcp://[fe80::1%25eth0]:80",
                "tcp://localhost:0",
                "tcp://host-name.example_1:65535",
                "tls://host:4477",
                "tcp://0.0.0.0:7000?backlog=128&connectTimeout=250ms",
                "unix:/x?key=a%26b%3Dc",
                "systemd:",
                "systemd:api",
                "systemd:api?readTimeout=5s",
                "udp://127.0.0.1:5140",
                "udp://[::1]:0",
                "udp://localhost:514?maxDatagramSize=8192",
                "unixgram:/run/app/log.sock",
                "unixgram:log.sock",
                "unixgram:@name?access=anyone",
            })
    void parsesAndGivesTheStringBack(String text) {
        Endpoint endpoint = Endpoint.parse(text);
        assertEquals(text, endpoint.toString());
        assertEquals(endpoint, Endpoint.parse(endpoint.toString()));
        assertEquals(endpoint.hashCode(), Endpoint.parse(text).hashCode());
    }

    @Test
    void exposesTheParts() {
        Endpoint file = Endpoint.parse("unix:/run/app.sock?mode=0660");
        assertTrue(file.isUnix());
        assertFalse(file.isAbstract());
        assertFalse(file.isInet());
        assertEquals(Path.of("/run/app.sock"), file.path().orElseThrow());
        assertEquals(Map.of("mode", "0660"), file.parameters());
        assertEquals("0660", file.parameter("mode").orElseThrow());
        assertThrows(IllegalStateException.class, file::port);

        Endpoint named = Endpoint.parse("unix:@daemon");
        assertTrue(named.isAbstract());
        assertEquals("daemon", named.abstractName().orElseThrow());
        assertTrue(named.path().isEmpty());

        Endpoint v6 = Endpoint.parse("tcp://[::1]:4477");
        assertEquals("::1", v6.host());
        assertEquals(4477, v6.port());
        assertEquals(Endpoint.tcp("::1", 4477), v6);
        assertEquals("tcp://[::1]:9", v6.withPort(9).toString());

        Endpoint percent = Endpoint.parse("unix:/tmp/pct%25and%3Fquestion.sock");
        assertEquals(Path.of("/tmp/pct%and?question.sock"), percent.path().orElseThrow());
    }

    @Test
    void systemdEndpointsNameTheirSocket() {
        assertTrue(Endpoint.parse("systemd:").isSystemd());
        assertTrue(Endpoint.parse("systemd:").systemdName().isEmpty());
        assertEquals("api", Endpoint.parse("systemd:api").systemdName().orElseThrow());
        assertEquals(Endpoint.parse("systemd:api"), Endpoint.systemd("api"));
        assertEquals(Endpoint.parse("systemd:"), Endpoint.systemd(null));
        assertFalse(Endpoint.parse("systemd:api").isUnix());
        assertTrue(Endpoint.parse("systemd:api").abstractName().isEmpty());
    }

    @Test
    void theRuntimeEndpointFollowsTheConvention() {
        Path path = Endpoint.runtime("kv").path().orElseThrow();
        assertEquals("kv.sock", path.getFileName().toString());
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && Files.isDirectory(Path.of(xdg))) {
            assertEquals(Path.of(xdg, "kv", "kv.sock"), path);
        } else {
            assertEquals(
                    Path.of(System.getProperty("java.io.tmpdir"), "kv-" + System.getProperty("user.name"), "kv.sock"),
                    path);
        }
        assertThrows(IllegalArgumentException.class, () -> Endpoint.runtime("a/b"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.runtime(""));
    }

    @Test
    void factoriesMatchTheParser() {
        assertEquals(Endpoint.parse("unix:/run/a.sock"), Endpoint.unix(Path.of("/run/a.sock")));
        assertEquals(Endpoint.parse("unix:rel/a.sock"), Endpoint.unix(Path.of("rel/a.sock")));
        assertEquals(Endpoint.parse("unix:@x"), Endpoint.unixAbstract("x"));
        assertEquals(Endpoint.parse("tcp://127.0.0.1:0"), Endpoint.tcp("127.0.0.1", 0));
        assertEquals(Endpoint.parse("tls://h:1"), Endpoint.tls("h", 1));
        assertEquals("unix:./@file", Endpoint.unix(Path.of("@file")).toString(), "a file named @x is not abstract");
        assertEquals(Endpoint.parse("unix:/a?k=v"), Endpoint.parse("unix:/a").withParameter("k", "v"));
        assertEquals(Endpoint.parse("unix:/a"), Endpoint.parse("unix:/a?k=v").withoutParameters());
    }

    @Test
    void valueEqualityComparesEveryPart() {
        assertNotEquals(Endpoint.parse("unix:/a"), Endpoint.parse("unix:/b"));
        assertNotEquals(Endpoint.parse("unix:/a"), Endpoint.parse("unix:/a?k=v"));
        assertNotEquals(Endpoint.parse("tcp://h:1"), Endpoint.parse("tls://h:1"));
        assertNotEquals(Endpoint.parse("unix:@a"), Endpoint.parse("unix:./@a"));
        assertNotEquals(Endpoint.parse("unix:/a?x=1&y=2"), Endpoint.parse("unix:/a?x=1&y=3"));
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "''|no scheme",
                "/run/app.sock|no scheme",
                ":x|no scheme",
                "http://h:1|unknown scheme 'http'",
                "UNIX:/a|unknown scheme 'UNIX'",
                "unix:|socket path is empty",
                "unix:@|abstract socket name after '@' is empty",
                "unix://run/app.sock|not unix://",
                "unix:/a%zz|two hex digits",
                "unix:/a%4|two hex digits",
                "unix:/a?|query after '?' is empty",
                "unix:/a?novalue|not name=value",
                "unix:/a?=v|not name=value",
                "unix:/a?k=1&k=2|names 'k' twice",
                "tcp:127.0.0.1:1|written tcp://host:port",
                "tcp://127.0.0.1|port is missing",
                "tcp://127.0.0.1:|port is empty",
                "tcp://127.0.0.1:65536|over 65535",
                "tcp://127.0.0.1:99999999|not a number",
                "tcp://127.0.0.1:-1|not a number",
                "tcp://127.0.0.1:http|not a number",
                "tcp://:80|host is empty",
                "tcp://::1:80|must be written in brackets",
                "tcp://[::1|no closing ']'",
                "tcp://[::1]|port is missing",
                "tcp://[127.0.0.1]:1|for IPv6 addresses only",
                "tcp://h:1/path|no path",
                "tcp://bad host:1|contains ' '",
                "tls://h|port is missing",
                "systemd:a:b|systemd socket name",
                "systemd:/run/x|systemd socket name",
                "udp:127.0.0.1:1|written udp://host:port",
                "udp://127.0.0.1|port is missing",
                "unixgram:|socket path is empty",
                "unixgram://run/log.sock|not unixgram://",
                "unixgram:@|abstract socket name after '@' is empty",
            })
    void rejectsBadStringsWithTheStringAndAnExample(String text, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Endpoint.parse(text));
        assertTrue(e.getMessage().contains("'" + text + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(e.getMessage().contains("unix:/run/app/app.sock"), "gives a valid example: " + e.getMessage());
    }

    @Test
    void datagramEndpointsSayWhatTheyAre() {
        Endpoint udp = Endpoint.parse("udp://127.0.0.1:5140");
        assertTrue(udp.isDatagram());
        assertTrue(udp.isInet());
        assertFalse(udp.isUnix());
        assertEquals("127.0.0.1", udp.host());
        assertEquals(5140, udp.port());
        assertEquals(Endpoint.udp("127.0.0.1", 5140), udp);
        assertEquals(Endpoint.parse("udp://127.0.0.1:7"), udp.withPort(7));

        Endpoint file = Endpoint.parse("unixgram:/run/app/log.sock");
        assertTrue(file.isDatagram());
        assertTrue(file.isUnix());
        assertFalse(file.isAbstract());
        assertFalse(file.isInet());
        assertEquals(Path.of("/run/app/log.sock"), file.path().orElseThrow());
        assertEquals(Endpoint.unixgram(Path.of("/run/app/log.sock")), file);
        assertNotEquals(Endpoint.unix(Path.of("/run/app/log.sock")), file, "a stream and a datagram socket differ");

        Endpoint named = Endpoint.parse("unixgram:@syslog");
        assertTrue(named.isAbstract());
        assertEquals("syslog", named.abstractName().orElseThrow());
        assertEquals(Endpoint.unixgramAbstract("syslog"), named);

        for (String stream : List.of("unix:/a.sock", "unix:@a", "tcp://127.0.0.1:1", "tls://h:1", "systemd:")) {
            assertFalse(Endpoint.parse(stream).isDatagram(), stream);
        }
    }

    @Test
    void factoriesRejectBadValues() {
        for (Runnable bad : List.<Runnable>of(
                () -> Endpoint.tcp("h", -1),
                () -> Endpoint.tcp("h", 65536),
                () -> Endpoint.tcp("", 1),
                () -> Endpoint.tcp("a b", 1),
                () -> Endpoint.unixAbstract(""),
                () -> Endpoint.unix(Path.of("")),
                () -> Endpoint.parse("unix:/a").withParameter("", "v"))) {
            assertThrows(IllegalArgumentException.class, bad::run);
        }
        assertThrows(NullPointerException.class, () -> Endpoint.parse(null));
    }
}
