package dev.ipc.internal;

import java.io.IOException;

/**
 * Closes several resources in order, keeps the first failure and adds the rest to it as suppressed.
 *
 * <pre>{@code
 * Closer closer = new Closer();
 * closer.close(selector);
 * closer.close(channel);
 * closer.run(() -> Files.deleteIfExists(path));
 * closer.rethrow();
 * }</pre>
 */
public final class Closer {

    /** A cleanup step that may fail. */
    @FunctionalInterface
    public interface Action {
        /** Runs the step. */
        void run() throws Exception;
    }

    private IOException failure;

    /** Closes {@code resource} if not null, recording a failure. */
    public Closer close(AutoCloseable resource) {
        return resource == null ? this : run(resource::close);
    }

    /** Runs {@code action}, recording a failure. */
    public Closer run(Action action) {
        try {
            action.run();
        } catch (IOException e) {
            record(e);
        } catch (Exception e) {
            record(new IOException(e.toString(), e));
        }
        return this;
    }

    private void record(IOException e) {
        if (failure == null) {
            failure = e;
        } else if (failure != e) {
            failure.addSuppressed(e);
        }
    }

    /** Throws the first failure, with the others suppressed in it, if there was one. */
    public void rethrow() throws IOException {
        if (failure != null) {
            throw failure;
        }
    }

    /** Closes {@code resource}, adding any failure to {@code primary} as suppressed. */
    public static void closeQuietly(AutoCloseable resource, Throwable primary) {
        if (resource == null) {
            return;
        }
        try {
            resource.close();
        } catch (Exception e) {
            if (primary != null && primary != e) {
                primary.addSuppressed(e);
            }
        }
    }
}
