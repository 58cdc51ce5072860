package dev.ipc.unix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ConnectionOptions;
import dev.ipc.ConnectionOptions.UnixBackend;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.testkit.LeakGate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@ExtendWith(LeakGate.class)
class TransportChoiceTest {

    @ParameterizedTest
    @CsvSource({
        "unix:/run/x.sock, unix/jdk",
        "unix:rel.sock, unix/jdk",
        "unix:/run/x.sock?backend=auto, unix/jdk",
        "unix:/run/x.sock?backend=jdk, unix/jdk",
        "unix:/run/x.sock?backend=junixsocket, unix/junixsocket",
        "unix:@name, unix/junixsocket",
        "unix:@name?backend=junixsocket, unix/junixsocket",
    })
    void choosesTheJdkUnlessTheEndpointNeedsOrAsksForJunixsocket(String endpoint, String expected) {
        Endpoint parsed = Endpoint.parse(endpoint);
        assertEquals(
                expected,
                Ipc.transportFor(
                                parsed,
                                ConnectionOptions.defaults().toBuilder()
                                        .query(parsed)
                                        .build())
                        .id());
    }

    @Test
    void optionsInCodeChooseTooAndTheQueryWins() {
        ConnectionOptions forced = ConnectionOptions.builder()
                .set(ConnectionOptions.BACKEND, UnixBackend.JUNIXSOCKET)
                .build();
        assertEquals(
                "unix/junixsocket",
                Ipc.transportFor(Endpoint.parse("unix:/x.sock"), forced).id());
        Endpoint query = Endpoint.parse("unix:/x.sock?backend=jdk");
        assertEquals(
                "unix/jdk",
                Ipc.transportFor(query, forced.toBuilder().query(query).build()).id());
    }

    @Test
    void explainsWhyNoTransportCanServe() {
        Endpoint endpoint = Endpoint.parse("unix:@name?backend=jdk");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Ipc.listen(endpoint));
        assertTrue(
                e.getMessage().contains("unix/jdk can't: the JDK's channels have no abstract namespace"),
                e.getMessage());
        assertTrue(e.getMessage().contains("unix/junixsocket can't: backend=jdk was asked for"), e.getMessage());
    }

    @Test
    void aSchemeWithoutTransportListsTheSchemesThereAre() {
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> Ipc.connect(Endpoint.parse("tls://127.0.0.1:1")));
        assertTrue(e.getMessage().contains("no transport for scheme 'tls'"), e.getMessage());
        assertTrue(e.getMessage().contains("schemes available: [systemd, unix]"), e.getMessage());
    }

    @Test
    void badQueryOptionsFailBeforeAnythingIsOpened() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Ipc.listen(Endpoint.parse("unix:/nonexistent-dir/x.sock?readTimeout=often")));
        assertTrue(e.getMessage().contains("'often' is not a duration"), e.getMessage());
    }
}
