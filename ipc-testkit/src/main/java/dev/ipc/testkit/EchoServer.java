package dev.ipc.testkit;

import dev.ipc.Connection;
import dev.ipc.Listener;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test server that echoes every message on every connection of a listener, one thread per connection, until it is
 * closed; failures of single connections are kept for assertions.
 */
public final class EchoServer implements AutoCloseable {

    private final Listener listener;
    private final ExecutorService threads;
    private final List<Connection> connections = new CopyOnWriteArrayList<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();

    private EchoServer(Listener listener) {
        this.listener = listener;
        AtomicInteger count = new AtomicInteger();
        this.threads = Executors.newCachedThreadPool(task -> {
            Thread thread = new Thread(task, "ipc-test-echo-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Starts echoing on {@code listener}, which the server then owns. */
    public static EchoServer start(Listener listener) {
        EchoServer server = new EchoServer(listener);
        server.threads.execute(server::acceptLoop);
        return server;
    }

    private void acceptLoop() {
        while (listener.isOpen()) {
            Connection connection;
            try {
                connection = listener.accept();
            } catch (IOException e) {
                if (listener.isOpen()) {
                    failures.add(e);
                }
                return;
            }
            connections.add(connection);
            threads.execute(() -> echo(connection));
        }
    }

    private void echo(Connection connection) {
        try (connection) {
            for (byte[] message = connection.receive(); message != null; message = connection.receive()) {
                connection.send(message);
            }
        } catch (IOException e) {
            if (listener.isOpen()) {
                failures.add(e);
            }
        }
    }

    /** The listener being served. */
    public Listener listener() {
        return listener;
    }

    /** What failed on single connections so far. */
    public List<Throwable> failures() {
        return failures;
    }

    /** Closes the listener and every connection, and waits for the server's threads to end. */
    @Override
    public void close() throws Exception {
        listener.close();
        for (Connection connection : connections) {
            connection.close();
        }
        threads.shutdown();
        if (!threads.awaitTermination(10, TimeUnit.SECONDS)) {
            threads.shutdownNow();
            throw new IllegalStateException("echo server threads did not stop within 10 s");
        }
    }
}
