package dev.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** What the API checks before any transport is asked: streams and datagrams kept apart, and the datagram options. */
class DatagramApiTest {

    @Test
    void streamCallsRefuseDatagramEndpointsNamingTheDatagramApi() {
        IllegalArgumentException listen =
                assertThrows(IllegalArgumentException.class, () -> Ipc.listen(Endpoint.parse("unixgram:/tmp/x.sock")));
        assertTrue(listen.getMessage().contains("use Ipc.bindDatagram"), listen.getMessage());
        IllegalArgumentException connect =
                assertThrows(IllegalArgumentException.class, () -> Ipc.connect(Endpoint.parse("udp://127.0.0.1:1")));
        assertTrue(connect.getMessage().contains("use Ipc.connectDatagram"), connect.getMessage());
        IllegalArgumentException server = assertThrows(
                IllegalArgumentException.class,
                () -> IpcServer.builder(Endpoint.parse("udp://127.0.0.1:0"))
                        .handler(request -> request)
                        .build()
                        .start());
        assertTrue(server.getMessage().contains("carry datagrams"), server.getMessage());
        IllegalArgumentException client =
                assertThrows(IllegalArgumentException.class, () -> IpcClient.connect(Endpoint.parse("unixgram:@x")));
        assertTrue(client.getMessage().contains("carry datagrams"), client.getMessage());
    }

    @Test
    void datagramCallsRefuseStreamEndpointsNamingTheStreamApi() {
        IllegalArgumentException bind = assertThrows(
                IllegalArgumentException.class, () -> Ipc.bindDatagram(Endpoint.parse("unix:/tmp/x.sock")));
        assertTrue(bind.getMessage().contains("use Ipc.listen"), bind.getMessage());
        IllegalArgumentException connect = assertThrows(
                IllegalArgumentException.class, () -> Ipc.connectDatagram(Endpoint.parse("tcp://127.0.0.1:1")));
        assertTrue(connect.getMessage().contains("use Ipc.connect"), connect.getMessage());
    }

    @Test
    void datagramOptionsTakeWhatMakesSenseAndRefuseTheRest() {
        DatagramOptions options = DatagramOptions.builder()
                .query(Endpoint.parse(
                        "unixgram:/run/log.sock?mode=0660&readTimeout=2s&maxDatagramSize=8KiB&sendTimeout=1s"))
                .build();
        assertEquals(0660, options.get(ConnectionOptions.MODE));
        assertEquals(Duration.ofSeconds(2), options.get(ConnectionOptions.READ_TIMEOUT));
        assertEquals(8192, options.get(DatagramOptions.MAX_DATAGRAM_SIZE));
        assertEquals(Duration.ofSeconds(1), options.get(DatagramOptions.SEND_TIMEOUT));

        IllegalArgumentException frame = assertThrows(
                IllegalArgumentException.class,
                () -> DatagramOptions.builder().set(ConnectionOptions.MAX_FRAME_SIZE, 10));
        assertTrue(frame.getMessage().contains("DatagramOptions does not take it"), frame.getMessage());
        IllegalArgumentException secret = assertThrows(
                IllegalArgumentException.class,
                () -> DatagramOptions.builder().query(Endpoint.parse("udp://127.0.0.1:1?secretEnv=X")));
        assertTrue(secret.getMessage().contains("secretEnv"), secret.getMessage());
        IllegalArgumentException mode = assertThrows(
                IllegalArgumentException.class,
                () -> DatagramOptions.builder().query(Endpoint.parse("udp://127.0.0.1:1?mode=0660")));
        assertTrue(mode.getMessage().contains("udp: endpoints do not take it"), mode.getMessage());
        IllegalArgumentException streamOption = assertThrows(
                IllegalArgumentException.class,
                () -> ConnectionOptions.builder().set(DatagramOptions.SEND_TIMEOUT, Duration.ofSeconds(1)));
        assertTrue(streamOption.getMessage().contains("ConnectionOptions does not take it"), streamOption.getMessage());
    }
}
