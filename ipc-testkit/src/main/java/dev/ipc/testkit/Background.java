package dev.ipc.testkit;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Work that may block (a read from a child process's pipe, a client looping on calls) on a thread of its own, never on
 * the common fork-join pool: that pool may have a single thread (2 cores), and one blocked task there starves every
 * other.
 */
public final class Background {

    private Background() {}

    /** Runs {@code task} on a new daemon thread; the future completes with its result or its exception. */
    public static <T> CompletableFuture<T> call(String name, Callable<T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread thread = new Thread(
                () -> {
                    try {
                        result.complete(task.call());
                    } catch (Throwable e) {
                        result.completeExceptionally(e);
                    }
                },
                "test-" + name);
        thread.setDaemon(true);
        thread.start();
        return result;
    }

    /** Runs {@code task} on a new daemon thread. */
    public static CompletableFuture<Void> run(String name, Runnable task) {
        return call(name, () -> {
            task.run();
            return null;
        });
    }
}
