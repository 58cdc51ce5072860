package dev.ipc.testkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
        context.getStore(NAMESPACE).put("baseline", Baseline.take());
    }

    /**
     * What was open at one moment: descriptors and threads. The one leak check, used by this gate and by the contract
     * suite's own.
     */
    public static final class Baseline {
        private final long descriptors;
        private final Set<Thread> threads;

        private Baseline(long descriptors, Set<Thread> threads) {
            this.descriptors = descriptors;
            this.threads = threads;
        }

        /** The descriptors and threads open now. */
        public static Baseline take() throws IOException {
            return new Baseline(
                    OpenDescriptors.count(),
                    Set.copyOf(Thread.getAllStackTraces().keySet()));
        }

        /**
         * Asserts that no library thread ({@code ipc-*}) started since is alive after {@code grace}, and that open
         * descriptors are back within 2 of the baseline, giving the JVM's cleaner up to two seconds of collections to
         * release those of channels that became unreachable.
         *
         * @param what what ran since, for the messages
         */
        public void assertNothingLeaked(String what, Duration grace) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + grace.toNanos();
            for (Thread thread : Thread.getAllStackTraces().keySet()) {
                if (!threads.contains(thread) && thread.getName().startsWith("ipc-")) {
                    thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                    assertFalse(
                            thread.isAlive(),
                            "a library thread still runs " + grace.toMillis() + " ms after " + what + ": "
                                    + thread.getName());
                }
            }
            long now = OpenDescriptors.count();
            for (int attempt = 0; attempt < 20 && now > descriptors + 2; attempt++) {
                System.gc();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
                now = OpenDescriptors.count();
            }
            assertTrue(
                    now <= descriptors + 2,
                    "open descriptors went from " + descriptors + " to " + now + " over " + what + ": "
                            + OpenDescriptors.describe());
        }
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
    public void afterAll(ExtensionContext context) throws Exception {
        Baseline baseline = context.getStore(NAMESPACE).get("baseline", Baseline.class);
        if (baseline == null) {
            return; // beforeAll failed, and said why
        }
        baseline.assertNothingLeaked(context.getDisplayName(), Duration.ofSeconds(1));
    }
}
