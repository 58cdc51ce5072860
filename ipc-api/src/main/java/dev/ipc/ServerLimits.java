package dev.ipc;

import java.time.Duration;

/**
 * The limits and timeouts of an {@link IpcServer} that its sessions read on every request, taken from the options once.
 */
final class ServerLimits {
    final int maxPayload;
    final int maxInFlight;
    final int maxConnections;
    final int maxConnectionsPerPeer;
    final int maxStreamsPerConnection;
    final int maxStreamsPerPeer;
    final int maxHandshakes;
    final int maxHandshakesPerPeer;
    final int workers;
    final boolean directHandlers;
    final Duration handshakeTimeout;
    final Duration idleTimeout;
    final Duration frameTimeout;
    final Duration writeTimeout;
    final Duration shutdownTimeout;
    final long maxBuffered;

    ServerLimits(ServerOptions options) {
        int buffered = options.get(ServerOptions.MAX_BUFFERED_BYTES);
        maxBuffered = buffered == 0 ? Runtime.getRuntime().maxMemory() / 4 : buffered;
        maxPayload = options.get(ConnectionOptions.MAX_FRAME_SIZE);
        maxInFlight = options.get(ServerOptions.MAX_IN_FLIGHT);
        maxConnections = options.get(ServerOptions.MAX_CONNECTIONS);
        maxConnectionsPerPeer = options.get(ServerOptions.MAX_CONNECTIONS_PER_PEER);
        maxStreamsPerConnection = options.get(ServerOptions.MAX_STREAMS_PER_CONNECTION);
        maxStreamsPerPeer = options.get(ServerOptions.MAX_STREAMS_PER_PEER);
        maxHandshakes = options.get(ConnectionOptions.MAX_HANDSHAKES);
        maxHandshakesPerPeer = options.get(ConnectionOptions.MAX_HANDSHAKES_PER_PEER);
        workers = options.get(ServerOptions.WORKERS);
        directHandlers = options.get(ServerOptions.DIRECT_HANDLERS);
        handshakeTimeout = options.get(ConnectionOptions.HANDSHAKE_TIMEOUT);
        idleTimeout = options.get(ServerOptions.IDLE_TIMEOUT);
        frameTimeout = options.get(ServerOptions.FRAME_TIMEOUT);
        writeTimeout = options.get(ServerOptions.WRITE_TIMEOUT);
        shutdownTimeout = options.get(ServerOptions.SHUTDOWN_TIMEOUT);
    }

    /** How often the watchdog looks at the sessions: a quarter of the shortest timeout, 10 ms to 1 s. */
    long watchdogTickMillis() {
        long shortest = Long.MAX_VALUE;
        for (Duration timeout : new Duration[] {handshakeTimeout, idleTimeout, frameTimeout, writeTimeout}) {
            if (!timeout.isZero()) {
                shortest = Math.min(shortest, timeout.toMillis());
            }
        }
        return Math.max(10, Math.min(1000, shortest / 4));
    }

    /** Whether {@code timeout} (zero for none) has passed between {@code since} and {@code now} (nanoTime). */
    static boolean expired(Duration timeout, long since, long now) {
        return !timeout.isZero() && now - since > timeout.toNanos();
    }
}
