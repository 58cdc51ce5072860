package dev.ipc.testkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The leak gate for a test class ({@code @ExtendWith(LeakGate.class)}): after the class, open descriptors are back to
 * where they were before it (within 2), and none of the library's threads ({@code ipc-*}) that the class started is
 * alive a second later.
 *
 * <p>Before taking its baseline it runs one exchange on a socket file and one on TCP, so that what the JVM opens once
 * for good (native libraries, the virtual-thread pollers) is already there.
 */
public final class LeakGate implements BeforeAllCallback, AfterAllCallback {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(LeakGate.class);

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        warmUp();
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        store.put("descriptors", OpenDescriptors.count());
        store.put("threads", Set.copyOf(Thread.getAllStackTraces().keySet()));
    }

    private static void warmUp() throws Exception {
        Path directory = Files.createTempDirectory("gate");
        try {
            for (Endpoint endpoint : new Endpoint[] {
                Endpoint.parse("unix:" + directory.resolve("w.sock")), Endpoint.parse("tcp://127.0.0.1:0")
            }) {
                if (Ipc.transports().stream()
                        .noneMatch(transport -> transport.scheme().equals(endpoint.scheme()))) {
                    continue; // a module with one transport only warms that one
                }
                try (IpcServer server = IpcServer.builder(endpoint)
                                .handler(request -> request)
                                .build()
                                .start();
                        IpcClient client = IpcClient.connect(server.endpoint())) {
                    client.call(new byte[] {1});
                }
            }
        } finally {
            try (Stream<Path> files = Files.walk(directory)) {
                for (Path path : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(path);
                }
            }
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterAll(ExtensionContext context) throws Exception {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        Set<Thread> before = (Set<Thread>) store.get("threads");
        if (before == null) {
            return; // beforeAll failed, and said why
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (!before.contains(thread) && thread.getName().startsWith("ipc-")) {
                thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                assertFalse(
                        thread.isAlive(), "a library thread still runs a second after the class: " + thread.getName());
            }
        }
        long baseline = (Long) store.get("descriptors");
        long descriptors = OpenDescriptors.count();
        // Channels that became unreachable give their descriptors back after a collection.
        for (int attempt = 0; attempt < 20 && descriptors > baseline + 2; attempt++) {
            System.gc();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
            descriptors = OpenDescriptors.count();
        }
        assertTrue(
                descriptors <= baseline + 2,
                "open descriptors went from " + baseline + " to " + descriptors + " over " + context.getDisplayName()
                        + ": " + OpenDescriptors.describe());
    }
}
