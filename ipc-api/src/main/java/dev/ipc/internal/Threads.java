package dev.ipc.internal;

import java.lang.reflect.Method;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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

    /**
     * An executor for at most {@code limit} tasks at once (the caller keeps to that): a virtual thread per task where
     * available, else up to {@code limit} daemon threads named {@code name-N}.
     */
    public static ExecutorService perTask(String name, int limit) {
        ExecutorService virtual = virtualPerTask(name);
        return virtual != null ? virtual : bounded(name, limit);
    }

    /** Up to {@code limit} daemon platform threads named {@code name-N}, one per task, kept 30 s when idle. */
    public static ExecutorService bounded(String name, int limit) {
        return new ThreadPoolExecutor(0, limit, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), daemons(name));
    }

    /** A virtual thread per task where available, else a fixed pool of {@code size} daemon threads. */
    public static ExecutorService workers(String name, int size) {
        ExecutorService virtual = virtualPerTask(name);
        return virtual != null ? virtual : Executors.newFixedThreadPool(size, daemons(name));
    }

    /** Starts {@code task} on a new thread: virtual if asked and available, else a daemon platform thread. */
    public static Thread start(String name, boolean virtual, Runnable task) {
        if (virtual && VIRTUAL != null) {
            try {
                Object builder = VIRTUAL[1].invoke(VIRTUAL[0].invoke(null), name, 0L);
                Thread thread = ((ThreadFactory) VIRTUAL[2].invoke(builder)).newThread(task);
                thread.start();
                return thread;
            } catch (ReflectiveOperationException | RuntimeException e) {
                // fall back to a platform thread
            }
        }
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        thread.start();
        return thread;
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
