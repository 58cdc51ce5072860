package dev.ipc.unix;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.AccessPolicy;
import dev.ipc.ApplicationException;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.ReplyStream;
import dev.ipc.ServerOptions;
import dev.ipc.StreamingCall;
import dev.ipc.testkit.JavaProcesses;
import dev.ipc.testkit.LeakGate;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The status daemon of issue 15, as a new user would write it, with {@code IpcServer} alone: a socket file anyone may
 * connect to, a handler that lets only root set the status (by uid, on the default backend), a client that runs as
 * another user (uid 65534, a Python client through {@code setpriv}), a thousand callers at once, and a watch that
 * streams each change.
 */
@ExtendWith(LeakGate.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StatusDaemonTest {

    private static final String STOP = "";

    @Test
    void authorisesByUidServesAThousandCallersAtOnceAndStreamsItsChanges() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(
                "root".equals(System.getProperty("user.name"))
                        && Files.isExecutable(Path.of("/usr/bin/setpriv"))
                        && Files.isExecutable(python),
                "acting as uid 65534 needs root, setpriv (util-linux) and python3");
        Path run = Files.createTempDirectory("ipcs");
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = run.resolve("status.sock");
        AtomicReference<String> status = new AtomicReference<>("ok");
        List<BlockingQueue<String>> watchers = new CopyOnWriteArrayList<>();
        IpcServer server = IpcServer.builder(Endpoint.unix(socket)) // the default backend
                .options(ServerOptions.builder()
                        .connection(ConnectionOptions.builder()
                                .set(ConnectionOptions.MODE, 0666)
                                .set(ConnectionOptions.ACCESS, AccessPolicy.anyone())
                                .build())
                        .build())
                .requestHandler(request -> {
                    String text = new String(request.payload(), UTF_8);
                    if (text.startsWith("set ")) {
                        long uid = request.peer().uid().orElse(-1);
                        if (uid != 0) {
                            throw new ApplicationException(
                                    1403, "only root may set the status; uid " + uid + " may read it");
                        }
                        status.set(text.substring(4));
                        watchers.forEach(watcher -> watcher.add(text.substring(4)));
                        return "set".getBytes(UTF_8);
                    }
                    if (text.equals("watch")) {
                        ReplyStream stream = request.openStream();
                        BlockingQueue<String> changes = new LinkedBlockingQueue<>();
                        watchers.add(changes);
                        request.onCancel(() -> changes.add(STOP));
                        try {
                            stream.send(status.get().getBytes(UTF_8));
                            for (String change = changes.take(); !change.equals(STOP); change = changes.take()) {
                                stream.send(change.getBytes(UTF_8));
                            }
                            return null;
                        } finally {
                            watchers.remove(changes);
                        }
                    }
                    if (text.equals("slow-get")) {
                        Thread.sleep(20); // a handler that takes a while, so that calls pile up past maxInFlight
                    }
                    return status.get().getBytes(UTF_8);
                })
                .build()
                .start();
        ExecutorService callers = newVirtualThreadPerTaskExecutor();
        try (server;
                IpcClient client = IpcClient.connect(server.endpoint());
                StreamingCall watch = client.stream("watch".getBytes(UTF_8))) {
            assertEquals("ok", new String(watch.next(Duration.ofSeconds(30)), UTF_8), "the watch starts at the status");

            // Another user reads, and is refused a change, with the reason.
            Path script = run.resolve("ipc_client.py");
            try (InputStream source = StatusDaemonTest.class.getResourceAsStream("/ipc_client.py")) {
                Files.copy(source, script);
            }
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));
            Process nobody = new ProcessBuilder(
                            "/usr/bin/setpriv",
                            "--reuid=65534",
                            "--regid=65534",
                            "--clear-groups",
                            python.toString(),
                            script.toString(),
                            server.endpoint().toString(),
                            "get",
                            "set down")
                    .redirectErrorStream(true)
                    .start();
            String output;
            try {
                assertTrue(nobody.waitFor(60, TimeUnit.SECONDS));
                output = new String(nobody.getInputStream().readAllBytes(), UTF_8);
            } finally {
                JavaProcesses.reap(nobody);
            }
            assertEquals("ok\nerror 1403: only root may set the status; uid 65534 may read it\n", output);

            // Root may; the watch sees root's change, not the refused one.
            assertEquals("set", new String(client.call("set maintenance".getBytes(UTF_8)), UTF_8));
            assertEquals("maintenance", new String(watch.next(Duration.ofSeconds(30)), UTF_8));

            // A thousand callers at once, twice each, on one client: beyond the 128 in flight they wait, never fail.
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                calls.add(callers.submit(() -> {
                    start.await();
                    int ok = 0;
                    for (int call = 0; call < 2; call++) {
                        if ("maintenance".equals(new String(client.call("slow-get".getBytes(UTF_8)), UTF_8))) {
                            ok++;
                        }
                    }
                    return ok;
                }));
            }
            start.countDown();
            int answered = 0;
            for (Future<Integer> call : calls) {
                answered += call.get(100, TimeUnit.SECONDS);
            }
            assertEquals(2000, answered);
            assertEquals(0, server.stats().errors().getOrDefault(ErrorCode.TOO_MANY_REQUESTS, 0L));
        } finally {
            callers.shutdownNow();
            assertTrue(callers.awaitTermination(30, TimeUnit.SECONDS));
            try (Stream<Path> files = Files.walk(run)) {
                for (Path path : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(path);
                }
            }
        }
    }

    /** Virtual threads where the JDK has them (21+), platform threads on 17. */
    private static ExecutorService newVirtualThreadPerTaskExecutor() {
        try {
            return (ExecutorService)
                    Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        } catch (ReflectiveOperationException e) {
            return Executors.newCachedThreadPool();
        }
    }
}
