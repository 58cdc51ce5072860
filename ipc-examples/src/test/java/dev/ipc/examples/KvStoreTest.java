package dev.ipc.examples;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.ApplicationException;
import dev.ipc.Endpoint;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.StreamingCall;
import dev.ipc.testkit.LeakGate;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The store's watch, in one process: a watcher that stops reading costs the daemon a bounded number of bytes. */
@ExtendWith(LeakGate.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KvStoreTest {

    @TempDir
    Path directory;

    private static byte[] put(String key, int size) {
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        request.writeBytes(("put " + key + "\n").getBytes(UTF_8));
        request.writeBytes(new byte[size]);
        return request.toByteArray();
    }

    /**
     * A watcher that reads nothing while large values change falls behind by bytes, not by count: before, 1,024 values
     * of 1 MiB could pile up for each watcher (121 puts of 1 MiB took a 256 MiB daemon down with one such watcher).
     */
    @Test
    void aWatcherThatStopsReadingIsEndedOnceItFallsAMebibyteBehind() throws Exception {
        KvStore store = new KvStore();
        try (IpcServer server = IpcServer.builder(Endpoint.unix(directory.resolve("kv.sock")))
                        .requestHandler(store::handle)
                        .build()
                        .start();
                IpcClient client = IpcClient.connect(server.endpoint());
                StreamingCall watch = client.stream("watch big".getBytes(UTF_8))) {
            assertEquals("watching big", new String(watch.next(Duration.ofSeconds(30)), UTF_8));
            int size = 256 * 1024;
            // The client takes 16 messages ahead of its reader; the store then queues 3 more, and the next ends it.
            for (int i = 0; i < 24; i++) {
                assertEquals(KvStore.OK, client.call(put("big" + i, size))[0]);
            }
            ApplicationException fellBehind = assertThrows(ApplicationException.class, () -> {
                while (watch.next(Duration.ofSeconds(30)) != null) {
                    // the changes that were sent before it fell behind
                }
            });
            assertEquals(KvStore.FELL_BEHIND, fellBehind.applicationCode());
            assertTrue(fellBehind.getMessage().contains("1048576 bytes of changes behind"), fellBehind.getMessage());
        }
    }
}
