package dev.ipc.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.reflect.Method;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads for the runtime: a virtual thread per task where the JVM has them (21 and later, looked up once at run time,
 * since the code is compiled for 17), otherwise bounded pools of named daemon platform threads.
 */
public final class Threads {

    private static final Method[] VIRTUAL = lookUpVirtualThreads();
    private static final Method IS_VIRTUAL = lookUpIsVirtual();

    private static Method lookUpIsVirtual() {
        try {
            return Thread.class.getMethod("isVirtual");
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    private Threads() {}

    /** Thread.ofVirtual(), OfVirtual.name(String, long), Builder.factory(), Executors.newThreadPerTaskExecutor(). */
    private static Method[] lookUpVirtualThreads() {
        try {
            Class<?> ofVirtual = Class.forName("java.lang.Thread$Builder$OfVirtual");
            Class<?> builder = Class.forName("java.lang.Thread$Builder");
            return new Method[] {
                Thread.class.getMethod("ofVirtual"),
                ofVirtual.getMethod("name", String.class, long.class),
                builder.getMethod("factory"),
                Executors.class.getMethod("newThreadPerTaskExecutor", ThreadFactory.class),
            };
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Whether {@code thread} is a virtual thread. */
    public static boolean isVirtual(Thread thread) {
        if (IS_VIRTUAL == null) {
            return false;
        }
        try {
            return (Boolean) IS_VIRTUAL.invoke(thread);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }

    /** Whether this JVM has virtual threads. */
    public static boolean haveVirtualThreads() {
        return VIRTUAL != null;
    }

    /** A virtual thread per task where available, else a fixed pool of {@code size} daemon threads. */
    public static ExecutorService workers(String name, int size) {
        ExecutorService virtual = virtualPerTask(name);
        return virtual != null ? virtual : Executors.newFixedThreadPool(size, daemons(name));
    }

    /**
     * A factory of unstarted threads named {@code name}: virtual if asked and available, else daemon platform threads.
     */
    public static ThreadFactory factory(String name, boolean virtual) {
        if (virtual && VIRTUAL != null) {
            try {
                Object builder = VIRTUAL[1].invoke(VIRTUAL[0].invoke(null), name, 0L);
                ThreadFactory factory = (ThreadFactory) VIRTUAL[2].invoke(builder);
                return factory;
            } catch (ReflectiveOperationException | RuntimeException e) {
                // fall back to platform threads
            }
        }
        return task -> {
            Thread thread = new Thread(task, name);
            thread.setDaemon(true);
            return thread;
        };
    }

    /** An action that may fail with an {@link IOException}. */
    @FunctionalInterface
    public interface IoAction {
        /** Runs it. */
        void run() throws IOException;
    }

    /**
     * Runs {@code action} on a platform thread and waits for it: for a backend whose blocking calls stall in virtual
     * threads (junixsocket's channels, seen on JDK 25), called from one.
     */
    public static void onPlatformThread(String what, IoAction action) throws IOException {
        Future<?> done = PlatformThreads.POOL.submit(() -> {
            action.run();
            return null;
        });
        try {
            done.get();
        } catch (InterruptedException e) {
            done.cancel(true);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for I/O on " + what);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException) {
                throw (IOException) cause;
            }
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            if (cause instanceof Error) {
                throw (Error) cause;
            }
            throw new IOException(cause);
        }
    }

    /** Platform threads for {@link #onPlatformThread}, made on first need, gone a second after the last use. */
    private static final class PlatformThreads {
        static final ExecutorService POOL = new ThreadPoolExecutor(
                0,
                64,
                1,
                TimeUnit.SECONDS,
                new SynchronousQueue<>(),
                daemons("ipc-platform-io"),
                new ThreadPoolExecutor.CallerRunsPolicy());
    }

    /**
     * Where a client's asynchronous calls complete: up to {@code size} daemon threads named {@code name-N}, made as
     * completions come and gone after ten idle seconds, so that a burst of replies is handed over in turn by threads
     * already awake, never one thread per completion. Once shut down, what is still given to it runs on the thread that
     * gives it (the client is closing, and its calls must still complete).
     */
    public static ExecutorService completions(String name, int size) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(
                size,
                size,
                10,
                TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(),
                daemons(name),
                (task, executor) -> task.run());
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** A factory of daemon platform threads named {@code name-N}. */
    public static ThreadFactory daemons(String name) {
        AtomicInteger count = new AtomicInteger();
        return task -> {
            Thread thread = new Thread(task, name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    private static ExecutorService virtualPerTask(String name) {
        if (VIRTUAL == null) {
            return null;
        }
        try {
            Object builder = VIRTUAL[1].invoke(VIRTUAL[0].invoke(null), name + "-", 0L);
            return (ExecutorService) VIRTUAL[3].invoke(null, VIRTUAL[2].invoke(builder));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
