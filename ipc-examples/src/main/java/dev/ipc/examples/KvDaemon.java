package dev.ipc.examples;

import dev.ipc.AccessPolicy;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcServer;
import dev.ipc.ServerOptions;
import java.io.IOException;

/**
 * {@code kvd}: a key-value daemon, served on the endpoint in {@code KV_ENDPOINT}.
 *
 * <p>The same binary runs on a socket file ({@code unix:/run/kv/kv.sock}, only its own user may connect), on loopback
 * TCP with a shared secret ({@code tcp://127.0.0.1:7070?secretFile=...}), on TLS with client certificates
 * ({@code tls://0.0.0.0:7443?keyStore=...&clientAuth=required&access=cn:...}), or on a socket that systemd passes it
 * ({@code systemd:}): everything a deployment decides is in that one string. Without {@code KV_ENDPOINT} it serves on
 * {@code $XDG_RUNTIME_DIR/kvd/kvd.sock}.
 *
 * <p>Prints {@code kvd: serving on ENDPOINT} (the real port for port 0) as its first line. On SIGTERM or SIGINT it
 * finishes the requests in flight and removes its socket file; the JVM then exits with 128 + the signal (143 for
 * SIGTERM; a systemd unit says {@code SuccessExitStatus=143}). Exit code 2 for a bad {@code KV_ENDPOINT}, 1 when it
 * can't serve.
 */
public final class KvDaemon {

    private KvDaemon() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        Endpoint endpoint;
        try {
            endpoint = KvClient.endpoint("kvd");
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("kvd: KV_ENDPOINT: " + e.getMessage());
            System.exit(2);
            return;
        }
        KvStore store = new KvStore();
        // Only this user, on a socket file or a socket from systemd, unless the endpoint's access= says otherwise;
        // over TCP and TLS the secret or the client certificate decides.
        ServerOptions options = endpoint.isUnix() || endpoint.isSystemd()
                ? ServerOptions.builder()
                        .set(ConnectionOptions.ACCESS, AccessPolicy.sameUser())
                        .build()
                : ServerOptions.defaults();
        IpcServer server = IpcServer.builder(endpoint)
                .options(options)
                .requestHandler(store::handle)
                .build()
                .closeOnShutdown(); // SIGTERM or Ctrl-C: answers what it took, removes the socket file
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            System.err.println("kvd: cannot serve on " + endpoint.withoutParameters() + ": " + e.getMessage());
            System.exit(e instanceof IllegalArgumentException ? 2 : 1);
            return;
        }
        System.out.println("kvd: serving on " + server.endpoint().withoutParameters());
        System.out.flush();
        server.serve(); // until the shutdown closes it
    }
}
