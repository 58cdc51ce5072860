package dev.ipc.bench;

import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import java.nio.charset.StandardCharsets;

/**
 * What a CLI tool does in a fresh process, for the benchmark's fresh-process case: {@code FreshCall ENDPOINT} connects
 * with {@code IpcClient}, makes one call and prints the reply; {@code FreshCall} alone is the hello-world JVM beside
 * it.
 */
public final class FreshCall {

    private FreshCall() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.out.println("hello");
            return;
        }
        try (IpcClient client = IpcClient.connect(Endpoint.parse(args[0]))) {
            System.out.println(new String(client.call("hi".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8));
        }
    }
}
