package dev.ipc.cli;

import dev.ipc.ClientOptions;
import dev.ipc.Endpoint;
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
        description = "Sends one request to ENDPOINT and writes the reply to stdout, byte for byte.")
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
        ClientOptions options = ClientOptions.builder()
                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                .build();
        try (IpcClient client = IpcClient.connect(Endpoint.parse(endpoint), options)) {
            byte[] reply = timeout == null ? client.call(request) : client.call(request, Durations.parse(timeout));
            System.out.write(reply);
            System.out.flush();
        }
        return Main.OK;
    }
}
