package dev.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.internal.Codec;
import dev.ipc.internal.Frame;
import dev.ipc.internal.HandshakeSlots;
import dev.ipc.internal.MemoryBudget;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A server session and a client session over an in-memory pair of connections, without a socket or an
 * {@link IpcServer}: the server's side runs on a thread of its own as a connection's would, with the context a server
 * gives it; the test speaks frames through {@link #client}, or runs a {@link ClientSession} on it.
 */
final class SessionHarness implements AutoCloseable {

    static final PeerCredentials PEER = PeerCredentials.ofIds(1000, 1000, 4242);

    final ServerSession.Context context;
    final ServerSession session;
    /** The client's end of the pair. */
    final MemoryConnection client;

    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
    private final List<ClientSession> clients = new ArrayList<>();
    private final Thread serving;
    private int version = Codec.VERSION;

    /** A session of a server with {@code options} and {@code handler}, serving on its own thread from now. */
    SessionHarness(ServerOptions options, IpcServer.AsyncRequestHandler handler) {
        ServerLimits limits = new ServerLimits(options);
        Endpoint endpoint = Endpoint.parse("unix:/in-memory.sock");
        context = new ServerSession.Context(
                endpoint.toString(),
                "ipc-test-session",
                limits,
                new MemoryBudget(limits.maxBuffered),
                new ServerCounters(),
                new Places(limits, endpoint.toString()),
                new HandshakeSlots(endpoint, limits.maxHandshakes, limits.maxHandshakesPerPeer),
                handler,
                null,
                threads,
                timer,
                () -> {});
        MemoryConnection[] pair = MemoryConnection.pair(
                PEER, ServerSession.connectionOptions(options).get(ConnectionOptions.MAX_FRAME_SIZE));
        client = pair[0];
        session = new ServerSession(pair[1], "uid 1000", context);
        context.places().sessions.add(session);
        session.helloSlot = context.helloSlots().admit(session.peer, session::pushOut);
        serving = new Thread(session::run, "ipc-test-session");
        serving.start();
    }

    /** Says hello for {@code version} and checks the WELCOME. */
    SessionHarness hello(int version) throws IOException {
        this.version = version;
        client.send(Codec.hello(version));
        Frame.Welcome welcome = (Frame.Welcome) read();
        assertEquals(version, welcome.version());
        return this;
    }

    /** Sends {@code frame} in the version spoken. */
    void send(Frame frame) throws IOException {
        client.send(Codec.encode(frame, version));
    }

    /** The next frame from the server; fails at the end of the stream. */
    Frame read() throws IOException {
        byte[] bytes = client.receive();
        assertTrue(bytes != null, "the server ended the connection");
        return Codec.decode(bytes, version);
    }

    /** Reads the end of the server's output. */
    void expectEnd() throws IOException {
        assertNull(client.receive(), "the end of the server's output");
    }

    /** Waits for the server session's thread to leave, its connection closed. */
    void awaitServed() throws InterruptedException {
        serving.join(TimeUnit.SECONDS.toMillis(30));
        assertTrue(!serving.isAlive(), "the session's thread left");
    }

    /** A client session over the client's end, reading on a thread of its own. */
    ClientSession clientSession() throws IOException {
        ClientSession.Setup setup = new ClientSession.Setup("memory", 1000, threads, ended -> {});
        ClientSession made = ClientSession.handshake(client, Duration.ofSeconds(10), 1 << 20, setup);
        made.start("ipc-test-client-reader");
        clients.add(made);
        return made;
    }

    @Override
    public void close() throws InterruptedException {
        clients.forEach(ClientSession::close);
        client.abort();
        session.connection.abort();
        serving.join(TimeUnit.SECONDS.toMillis(10));
        threads.shutdownNow();
        timer.shutdownNow();
        assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS), "the handlers ended");
    }
}
