package dev.ipc.cli;

import dev.ipc.ClientOptions;
import dev.ipc.ConnectionOptions;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ipc call}: one request, the reply to stdout. */
@Command(
        name = "call",
        mixinStandardHelpOptions = true,
        description = {
            "Sends one request to ENDPOINT and writes the reply to stdout, byte for byte.",
            "On a datagram endpoint (udp://, unixgram:) the request is one datagram, and the reply is the first "
                    + "datagram that comes back from there."
        })
final class Call implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "ENDPOINT", description = "the server's endpoint")
    String endpoint;

    @Parameters(
            index = "1",
            paramLabel = "MESSAGE",
            arity = "0..1",
            description = "the request, as UTF-8 text; - to read it from stdin; empty if left out")
    String message;

    @Option(
            names = "--timeout",
            paramLabel = "DURATION",
            description = "how long to wait for the reply, such as " + "5s or 250ms (default: 30s)")
    String timeout;

    @Override
    public Integer call() throws Exception {
        byte[] request = message == null
                ? new byte[0]
                : "-".equals(message) ? System.in.readAllBytes() : message.getBytes(StandardCharsets.UTF_8);
        Endpoint target = Endpoint.parse(endpoint);
        if (target.isDatagram()) {
            DatagramOptions options = DatagramOptions.builder()
                    .set(ConnectionOptions.READ_TIMEOUT, Durations.parse(timeout == null ? "30s" : timeout))
                    .build();
            try (DatagramSocket socket = Ipc.connectDatagram(target, options)) {
                socket.send(request);
                System.out.write(socket.receive().payload());
                System.out.flush();
            }
            return Main.OK;
        }
        ClientOptions options = ClientOptions.builder()
                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                .build();
        try (IpcClient client = IpcClient.connect(target, options)) {
            byte[] reply = timeout == null ? client.call(request) : client.call(request, Durations.parse(timeout));
            System.out.write(reply);
            System.out.flush();
        }
        return Main.OK;
    }
}
