package dev.ipc.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.AccessPolicy;
import dev.ipc.ApplicationException;
import dev.ipc.CallQueueFullException;
import dev.ipc.ClientOptions;
import dev.ipc.ClientStats;
import dev.ipc.Connection;
import dev.ipc.ConnectionLostException;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.IpcServer;
import dev.ipc.Listener;
import dev.ipc.NotRunException;
import dev.ipc.PeerCredentials;
import dev.ipc.RemoteException;
import dev.ipc.ReplyStream;
import dev.ipc.Request;
import dev.ipc.ServerOptions;
import dev.ipc.ServerStats;
import dev.ipc.StreamingCall;
import dev.ipc.internal.Codec;
import dev.ipc.internal.Frame;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.ref.WeakReference;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour of {@link IpcServer} and {@link IpcClient}, run on every transport as a nested part of
 * {@link TransportContract}.
 */
public abstract class RuntimeContract {

    private static final byte[] WRONG_VERSION_HELLO = {1, 0x49, 0x50, 0x43, 0, 0};
    private static final byte[] HELLO = {1, 0x49, 0x50, 0x43, 0, 1};

    private final TransportContract contract;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(new NamedThreads("ipc-test-runtime"));
    private final AtomicInteger handled = new AtomicInteger();

    protected RuntimeContract(TransportContract contract) {
        this.contract = contract;
    }

    @AfterEach
    void closeEverything() throws Exception {
        Collections.reverse(resources);
        for (AutoCloseable resource : resources) {
            resource.close();
        }
        threads.shutdownNow();
        assertTrue(threads.awaitTermination(10, TimeUnit.SECONDS));
        for (AutoCloseable resource : resources) {
            if (resource instanceof IpcServer) {
                assertBudgetReturned((IpcServer) resource);
            }
        }
    }

    /**
     * The memory budget's invariant, checked after every test on every transport: once a server is closed and its
     * connections have ended, it holds no bytes of requests or replies. A count that stays above 0 is a release missed
     * (the budget shrinks for good); below 0, a release made twice (the budget widens, and a peer could repeat it until
     * the heap is gone).
     */
    static void assertBudgetReturned(IpcServer server) throws InterruptedException {
        assertEquals(
                0,
                ConformanceContract.heldAfterClose(server),
                "bytes still counted in maxBufferedBytes after " + server + " closed");
    }

    private <T extends AutoCloseable> T closing(T resource) {
        resources.add(resource);
        return resource;
    }

    private IpcServer echoServer(ConnectionOptions options) throws IOException {
        return echoServer(ServerOptions.builder().connection(options).build());
    }

    private IpcServer echoServer(ServerOptions options) throws IOException {
        return closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(options)
                .handler(request -> {
                    handled.incrementAndGet();
                    if (new String(request, UTF_8).startsWith("boom")) {
                        throw new IllegalStateException("the handler broke on purpose");
                    }
                    return request;
                })
                .build()
                .start());
    }

    private IpcClient client(IpcServer server, ConnectionOptions options) throws IOException {
        return client(server, ClientOptions.builder().connection(options).build());
    }

    private IpcClient client(IpcServer server, ClientOptions options) throws IOException {
        return closing(IpcClient.connect(server.endpoint(), options));
    }

    /** A raw connection that has said hello and read the WELCOME. */
    private Connection welcomed(IpcServer server) throws IOException {
        Connection raw = closing(Ipc.connect(server.endpoint()));
        raw.send(HELLO);
        byte[] welcome = raw.receive();
        assertEquals(2, welcome[0], "WELCOME");
        return raw;
    }

    private static byte[] request(int id, byte[] payload) {
        return ByteBuffer.allocate(5 + payload.length)
                .put((byte) 3)
                .putInt(id)
                .put(payload)
                .array();
    }

    private static byte[] lengthPrefixed(byte[] body) {
        return ByteBuffer.allocate(4 + body.length)
                .putInt(body.length)
                .put(body)
                .array();
    }

    /** Reads frames until the server closes; returns the ERROR frames' codes and messages seen. */
    private static List<String> untilClosed(Connection raw) {
        List<String> errors = new ArrayList<>();
        try {
            for (byte[] frame = raw.receive(); frame != null; frame = raw.receive()) {
                if (frame[0] == 5) {
                    errors.add(ErrorCode.of(ByteBuffer.wrap(frame, 5, 2).getShort()) + " "
                            + new String(frame, 7, frame.length - 7, UTF_8));
                }
            }
        } catch (IOException e) {
            // The server may cut the connection with data unread: a reset is a close too.
        }
        return errors;
    }

    // ---- calls ------------------------------------------------------------------------------------------

    @Test
    void callsAndRepliesOfEverySize() throws Exception {
        ConnectionOptions options = ConnectionOptions.builder()
                .set(ConnectionOptions.MAX_FRAME_SIZE, 2 * 1024 * 1024)
                .build();
        IpcServer server = echoServer(options);
        IpcClient client = client(server, options);
        for (int size : new int[] {0, 1, 64 * 1024, 2 * 1024 * 1024}) {
            byte[] request = new byte[size];
            Arrays.fill(request, (byte) size);
            assertArrayEquals(request, client.call(request), size + " bytes");
        }
        IllegalArgumentException tooBig =
                assertThrows(IllegalArgumentException.class, () -> client.call(new byte[2 * 1024 * 1024 + 1]));
        assertTrue(tooBig.getMessage().contains("over the server's maxFrameSize"), tooBig.getMessage());
    }

    @Test
    void manyCallsInFlightOnOneConnectionRepliedInAnyOrder() throws Exception {
        int calls = 50;
        List<CompletableFuture<byte[]>> held = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch allArrived = new CountDownLatch(calls);
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .asyncHandler(request -> {
                    CompletableFuture<byte[]> reply = new CompletableFuture<>();
                    CompletableFuture<byte[]> echo = reply.thenApply(ignored -> request);
                    held.add(reply);
                    allArrived.countDown();
                    return echo;
                })
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        List<CompletableFuture<byte[]>> replies = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            replies.add(client.callAsync(("call " + i).getBytes(UTF_8)));
        }
        assertTrue(allArrived.await(30, TimeUnit.SECONDS), "all calls in flight at once");
        for (int i = held.size() - 1; i >= 0; i--) {
            held.get(i).complete(null); // answer in reverse order of arrival
        }
        for (int i = 0; i < calls; i++) {
            assertEquals("call " + i, new String(replies.get(i).get(30, TimeUnit.SECONDS), UTF_8));
        }
    }

    /** A server that allows {@code maxInFlight} requests at once and answers after {@code pauseMillis}. */
    private IpcServer slowEcho(int maxInFlight, long pauseMillis) throws IOException {
        return closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.MAX_IN_FLIGHT, maxInFlight)
                        .build())
                .handler(request -> {
                    Thread.sleep(pauseMillis);
                    return request;
                })
                .build()
                .start());
    }

    @Test
    void aHandlerSeesItsCallerAndTheRequestsId() throws Exception {
        List<Request> seen = Collections.synchronizedList(new ArrayList<>());
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .requestHandler(request -> {
                    seen.add(request);
                    return ("uid " + request.peer().uid().orElse(-1)).getBytes(UTF_8);
                })
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        String reply = new String(client.call("who am I".getBytes(UTF_8)), UTF_8);
        Request request = seen.get(0);
        assertEquals("who am I", new String(request.payload(), UTF_8));
        assertTrue(request.id() > 0, "the client's id: " + request.id());
        contract.checkPeerIsThisProcess(request.peer()); // what this transport tells of the caller, as a connection
        assertEquals("uid " + request.peer().uid().orElse(-1), reply);
    }

    @Test
    void statsAndEventsTellWhatHappened() throws Exception {
        List<ErrorCode> answered = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch threeAnswered = new CountDownLatch(3);
        CountDownLatch opened = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .handler(request -> {
                    if (new String(request, UTF_8).equals("boom")) {
                        throw new IllegalStateException("the handler broke on purpose");
                    }
                    return request;
                })
                .events(new IpcServer.Events() {
                    @Override
                    public void connectionOpened(PeerCredentials peer) {
                        opened.countDown();
                    }

                    @Override
                    public void connectionClosed(PeerCredentials peer) {
                        closed.countDown();
                    }

                    @Override
                    public void requestAnswered(Request request, ErrorCode error, long nanos) {
                        assertTrue(nanos >= 0);
                        answered.add(error == null ? ErrorCode.UNKNOWN : error); // UNKNOWN standing for "answered"
                        threeAnswered.countDown();
                    }
                })
                .build()
                .start());
        IpcClient client = IpcClient.connect(server.endpoint());
        try {
            client.call("a".getBytes(UTF_8));
            client.call("b".getBytes(UTF_8));
            assertThrows(RemoteException.class, () -> client.call("boom".getBytes(UTF_8)));
            ClientStats calls = client.stats();
            assertEquals(new ClientStats(3, 0, 0, 1), calls);
        } finally {
            client.close();
        }
        assertTrue(opened.await(10, TimeUnit.SECONDS));
        assertTrue(threeAnswered.await(10, TimeUnit.SECONDS));
        assertTrue(closed.await(10, TimeUnit.SECONDS));
        assertEquals(2, answered.stream().filter(ErrorCode.UNKNOWN::equals).count());
        assertEquals(1, answered.stream().filter(ErrorCode.INTERNAL::equals).count());
        ServerStats stats = server.stats();
        assertEquals(0, stats.connectionsOpen());
        assertTrue(stats.connectionsAccepted() >= 1, stats.toString());
        assertEquals(3, stats.requests());
        assertEquals(0, stats.requestsInFlight());
        assertEquals(Map.of(ErrorCode.INTERNAL, 1L), stats.errors());
        assertTrue(stats.bytesReceived() >= 3 * 10 && stats.bytesSent() >= 3 * 10, stats.toString());
    }

    @Test
    void aFixedNumberOfWorkersBoundsTheHandlersRunningAtOnce() throws Exception {
        AtomicInteger running = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder().set(ServerOptions.WORKERS, 2).build())
                .handler(request -> {
                    most.accumulateAndGet(running.incrementAndGet(), Math::max);
                    Thread.sleep(5);
                    running.decrementAndGet();
                    return request;
                })
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        List<CompletableFuture<byte[]>> calls = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            calls.add(client.callAsync(new byte[] {(byte) i}));
        }
        for (int i = 0; i < calls.size(); i++) {
            assertArrayEquals(new byte[] {(byte) i}, calls.get(i).get(30, TimeUnit.SECONDS));
        }
        assertTrue(most.get() <= 2, most.get() + " handlers ran at once on 2 workers");
    }

    @Test
    void callsBeyondTheServersInFlightLimitWaitTheirTurnInsteadOfFailing() throws Exception {
        IpcServer server = slowEcho(4, 2);
        IpcClient client = client(server, ConnectionOptions.defaults());
        List<Future<?>> callers = new ArrayList<>();
        for (int thread = 0; thread < 40; thread++) {
            int t = thread;
            callers.add(threads.submit(() -> {
                for (int i = 0; i < 5; i++) {
                    byte[] request = ("sync " + t + " " + i).getBytes(UTF_8);
                    assertArrayEquals(request, client.call(request));
                }
                return null;
            }));
        }
        List<CompletableFuture<byte[]>> async = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            async.add(client.callAsync(("async " + i).getBytes(UTF_8)));
        }
        for (Future<?> caller : callers) {
            caller.get(60, TimeUnit.SECONDS);
        }
        for (int i = 0; i < async.size(); i++) {
            assertEquals("async " + i, new String(async.get(i).get(60, TimeUnit.SECONDS), UTF_8));
        }
    }

    @Test
    void aCallThatFindsTheQueueFullOrWaitsTooLongIsToldWhich() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.MAX_IN_FLIGHT, 1)
                        .build())
                .handler(request -> {
                    assertTrue(release.await(30, TimeUnit.SECONDS));
                    return request;
                })
                .build()
                .start());
        IpcClient client = client(
                server,
                ClientOptions.builder().set(ClientOptions.MAX_QUEUED_CALLS, 2).build());
        CompletableFuture<byte[]> running = client.callAsync("running".getBytes(UTF_8));
        ExecutionException waitedTooLong = assertThrows(
                ExecutionException.class,
                () -> client.callAsync("impatient".getBytes(UTF_8), Duration.ofMillis(300))
                        .get(30, TimeUnit.SECONDS));
        assertTrue(
                waitedTooLong.getCause().getMessage().contains("no place for this call among the 1 requests in flight"),
                waitedTooLong.getCause().getMessage());
        CompletableFuture<byte[]> second = client.callAsync("second".getBytes(UTF_8));
        CompletableFuture<byte[]> third = client.callAsync("third".getBytes(UTF_8));
        CallQueueFullException full =
                assertThrows(CallQueueFullException.class, () -> client.call("one too many".getBytes(UTF_8)));
        assertTrue(full.getMessage().contains("maxQueuedCalls 2"), full.getMessage());
        release.countDown();
        for (CompletableFuture<byte[]> call : List.of(running, second, third)) {
            call.get(30, TimeUnit.SECONDS);
        }
        assertEquals("after", new String(client.call("after".getBytes(UTF_8)), UTF_8));
    }

    /**
     * Streams answered from a publisher hold no worker while they wait for the next message: with two workers and eight
     * such streams open, a plain call is answered at once (each stream's handler would hold a worker if it waited in
     * ReplyStream.send), and each stream still delivers what is published, then ends.
     */
    @Test
    void streamsFromAPublisherHoldNoWorker() throws Exception {
        int open = 8;
        List<SubmissionPublisher<byte[]>> publishers = new CopyOnWriteArrayList<>();
        CountDownLatch subscribed = new CountDownLatch(open);
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder().set(ServerOptions.WORKERS, 2).build())
                .asyncRequestHandler(request -> {
                    if (!request.acceptsStream()) {
                        return CompletableFuture.completedFuture(request.payload());
                    }
                    SubmissionPublisher<byte[]> publisher = new SubmissionPublisher<>(threads, 4);
                    publishers.add(publisher);
                    CompletionStage<byte[]> stream = request.stream(publisher);
                    subscribed.countDown();
                    return stream;
                })
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        List<StreamingCall> streams = new ArrayList<>();
        for (int i = 0; i < open; i++) {
            streams.add(closing(client.stream(("watch " + i).getBytes(UTF_8))));
        }
        assertTrue(subscribed.await(30, TimeUnit.SECONDS), "every stream's handler ran");
        assertEquals("plain", new String(client.call("plain".getBytes(UTF_8), Duration.ofSeconds(30)), UTF_8));
        for (SubmissionPublisher<byte[]> publisher : publishers) {
            publisher.submit("news".getBytes(UTF_8));
            publisher.close();
        }
        for (StreamingCall stream : streams) {
            assertEquals("news", new String(stream.next(Duration.ofSeconds(30)), UTF_8));
            assertEquals(null, stream.next(Duration.ofSeconds(30)), "the publisher's end ends the stream");
        }
    }

    /**
     * The server's interceptors run in one chain around the handler, the first added outermost, and may answer without
     * it; the client's run around call and callAsync, in the order chained.
     */
    @Test
    void interceptorsRunInOneChainAroundEveryCall() throws Exception {
        List<String> order = new CopyOnWriteArrayList<>();
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .handler(request -> {
                    order.add("handler");
                    return request;
                })
                .intercept((request, next) -> {
                    order.add("outer in");
                    return next.handle(request).whenComplete((reply, failure) -> order.add("outer out"));
                })
                .intercept((request, next) -> {
                    order.add("inner in from " + request.peer().getClass().getSimpleName());
                    if (new String(request.payload(), UTF_8).contains("deny")) {
                        throw new ApplicationException(1403, "refused by the interceptor");
                    }
                    return next.handle(request)
                            .thenApply(reply -> ("checked " + new String(reply, UTF_8)).getBytes(UTF_8));
                })
                .build()
                .start());
        List<String> seen = new CopyOnWriteArrayList<>();
        IpcClient.Interceptor prefix =
                (request, timeout, next) -> next.call(("a:" + new String(request, UTF_8)).getBytes(UTF_8), timeout);
        IpcClient.Interceptor record = (request, timeout, next) -> {
            seen.add(new String(request, UTF_8));
            return next.call(request, timeout);
        };
        IpcClient client = client(
                server,
                ClientOptions.builder()
                        .set(ClientOptions.INTERCEPTOR, IpcClient.Interceptor.chain(prefix, record))
                        .build());
        assertEquals("checked a:x", new String(client.call("x".getBytes(UTF_8)), UTF_8));
        assertEquals(List.of("outer in", "inner in from PeerCredentials", "handler", "outer out"), order);
        assertEquals(
                "checked a:y", new String(client.callAsync("y".getBytes(UTF_8)).get(30, TimeUnit.SECONDS), UTF_8));
        order.clear();
        ApplicationException denied =
                assertThrows(ApplicationException.class, () -> client.call("deny".getBytes(UTF_8)));
        assertEquals(1403, denied.applicationCode());
        assertEquals(
                List.of("outer in", "inner in from PeerCredentials", "outer out"), order, "the handler did not run");
        assertEquals(List.of("a:x", "a:y", "a:deny"), seen);
    }

    @Test
    void aStageChainedToCallAsyncMayCallAgainAndRunsOffTheReaderThread() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        IpcClient client = client(server, ConnectionOptions.defaults());
        String[] where = new String[1];
        byte[] second = client.callAsync("first".getBytes(UTF_8))
                .thenApply(first -> {
                    where[0] = Thread.currentThread().getName();
                    try {
                        return client.call(("after " + new String(first, UTF_8)).getBytes(UTF_8));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                })
                .get(10, TimeUnit.SECONDS);
        assertEquals("after first", new String(second, UTF_8));
        assertFalse(where[0].contains("reader"), "completed on " + where[0]);
        // Every kind of stage, chained before or after the reply came.
        List<String> threadsOfStages = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 20; i++) {
            CompletableFuture<byte[]> async = client.callAsync(new byte[] {(byte) i});
            Runnable note = () -> threadsOfStages.add(Thread.currentThread().getName());
            CompletableFuture.allOf(
                            async.whenComplete((reply, failure) -> note.run()),
                            async.handle((reply, failure) -> reply).thenRun(note),
                            async.thenAccept(reply -> note.run()),
                            async.thenCompose(reply -> {
                                note.run();
                                return CompletableFuture.completedFuture(reply);
                            }))
                    .get(10, TimeUnit.SECONDS);
        }
        assertEquals(80, threadsOfStages.size());
        for (String thread : threadsOfStages) {
            assertFalse(thread.contains("reader"), "a stage ran on " + thread);
        }
    }

    @Test
    void repliesOfCompletedAsyncCallsAreNotHeldUntilTheirTimeout() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        IpcClient client = client(server, ConnectionOptions.defaults()); // callTimeout 30 s
        List<WeakReference<byte[]>> replies = new ArrayList<>();
        List<CompletableFuture<byte[]>> calls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            calls.add(client.callAsync(new byte[1024 * 1024]));
        }
        for (CompletableFuture<byte[]> call : calls) {
            replies.add(new WeakReference<>(call.get(30, TimeUnit.SECONDS)));
        }
        calls.clear();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (replies.stream().anyMatch(reply -> reply.get() != null) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50); // polling the collector: nothing to wait on
        }
        long held = replies.stream().filter(reply -> reply.get() != null).count();
        assertEquals(0, held, held + " of 200 replies of 1 MiB are still reachable after their calls completed");
    }

    /**
     * A request cancelled while it waits for a worker is answered CANCELLED without running. The client proves the
     * server read its CANCEL before the worker is freed: a request after it, past maxInFlight, is refused by the same
     * reader, in order.
     */
    @Test
    void aRequestCancelledWhileItWaitsForAWorkerNeverRuns() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch blocking = new CountDownLatch(1);
        List<String> ran = new CopyOnWriteArrayList<>();
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.WORKERS, 1)
                        .set(ServerOptions.MAX_IN_FLIGHT, 1)
                        .build())
                .handler(request -> {
                    String text = new String(request, UTF_8);
                    ran.add(text);
                    if (text.equals("block")) {
                        blocking.countDown();
                        assertTrue(release.await(30, TimeUnit.SECONDS));
                    }
                    return request;
                })
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        CompletableFuture<byte[]> blocked = client.callAsync("block".getBytes(UTF_8));
        assertTrue(blocking.await(30, TimeUnit.SECONDS));
        Connection raw = closing(Ipc.connect(server.endpoint()));
        raw.send(Codec.hello(3));
        assertEquals(Codec.WELCOME, raw.receive()[0]);
        raw.send(Codec.encode(new Frame.Request(1, 0, 0, "queued".getBytes(UTF_8)), 3));
        raw.send(Codec.encode(new Frame.Cancel(1), 3));
        raw.send(Codec.encode(new Frame.Request(2, 0, 0, "probe".getBytes(UTF_8)), 3));
        Frame.Error probe = (Frame.Error) Codec.decode(raw.receive(), 3);
        assertEquals(2, probe.id(), "the reader refused the probe, so it had read the CANCEL before it");
        assertEquals(ErrorCode.TOO_MANY_REQUESTS, probe.errorCode());
        release.countDown();
        Frame.Error cancelled = (Frame.Error) Codec.decode(raw.receive(), 3);
        assertEquals(1, cancelled.id());
        assertEquals(ErrorCode.CANCELLED, cancelled.errorCode());
        assertArrayEquals("block".getBytes(UTF_8), blocked.get(30, TimeUnit.SECONDS));
        assertArrayEquals("after".getBytes(UTF_8), client.call("after".getBytes(UTF_8))); // the one worker, in turn
        assertEquals(List.of("block", "after"), ran, "the handler's runs");
    }

    /**
     * A request whose handler watches for its cancellation ({@code onCancel}) and answers is let go at once: the timer
     * that watches its deadline leaves with it, rather than holding it and its payload until the deadline.
     */
    @Test
    void anAnsweredRequestIsNotHeldByTheTimerOfItsDeadline() throws Exception {
        List<WeakReference<Request>> taken = Collections.synchronizedList(new ArrayList<>());
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .requestHandler(request -> {
                    request.onCancel(() -> {});
                    taken.add(new WeakReference<>(request));
                    return new byte[0];
                })
                .build()
                .start());
        IpcClient client = client(
                server,
                ClientOptions.builder()
                        .set(ClientOptions.CALL_TIMEOUT, Duration.ofDays(40))
                        .build());
        for (int i = 0; i < 50; i++) {
            client.call(new byte[256 * 1024]);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (taken.stream().anyMatch(request -> request.get() != null) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50); // polling the collector: nothing to wait on
        }
        long held = taken.stream().filter(request -> request.get() != null).count();
        assertEquals(0, held, held + " of 50 answered requests of 256 KiB are still reachable (a deadline 40 days on)");
    }

    @Test
    void aHandlerThatThrowsFailsOnlyItsRequestAsAnIncidentTheServerLogs() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        IpcClient client = client(server, ConnectionOptions.defaults());
        try (LogCapture log = LogCapture.start()) {
            RemoteException failed =
                    assertThrows(RemoteException.class, () -> client.call("boom password=hunter2".getBytes(UTF_8)));
            assertEquals(ErrorCode.INTERNAL, failed.code());
            assertFalse(
                    failed.getMessage().contains("hunter2")
                            || failed.getMessage().contains("IllegalState"),
                    "the caller learns nothing of the cause: " + failed.getMessage());
            String incident = failed.remoteMessage().replaceAll(".*incident ([0-9a-f]{8})$", "$1");
            assertEquals(8, incident.length(), failed.getMessage());
            String line = log.await(Duration.ofSeconds(10), "WARN", "incident " + incident);
            assertTrue(line.contains("the handler failed on request"), line);
            assertTrue(
                    log.text().contains("java.lang.IllegalStateException: the handler broke on purpose"),
                    "the log has the cause and its stack trace");
        }
        assertEquals("fine", new String(client.call("fine".getBytes(UTF_8)), UTF_8));
    }

    @Test
    void aHandlersApplicationErrorReachesTheCallerAsItIs() throws Exception {
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .asyncHandler(request -> CompletableFuture.failedFuture(
                        new ApplicationException(1404, "no key " + new String(request, UTF_8))))
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        ApplicationException failed =
                assertThrows(ApplicationException.class, () -> client.call("colour".getBytes(UTF_8)));
        assertEquals(1404, failed.applicationCode());
        assertEquals(ErrorCode.APPLICATION, failed.code());
        assertEquals("no key colour", failed.remoteMessage());
        assertEquals("error 1404: no key colour", failed.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ApplicationException(999, "a protocol code"));
    }

    /**
     * A server whose handler echoes, except: "hold" waits until cancelled (30 s at most), "count:N" streams "1" to "N",
     * "fail-after:N" streams N messages and fails with application error 1409, "forever" streams until cancelled,
     * "idle-stream" sends "ready" and then nothing until cancelled. Each cancellation a handler sees is put in
     * {@code cancelled}; each streamed message counts in {@code sent}.
     */
    private IpcServer streamingServer(BlockingQueue<String> cancelled, AtomicInteger sent) throws IOException {
        return closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .requestHandler(request -> {
                    String text = new String(request.payload(), UTF_8);
                    if (text.equals("hold")) {
                        CountDownLatch gone = new CountDownLatch(1);
                        request.onCancel(gone::countDown);
                        if (gone.await(30, TimeUnit.SECONDS)) {
                            cancelled.add("hold"
                                    + request.deadline()
                                            .map(at -> " with a deadline")
                                            .orElse(""));
                        }
                        return request.payload();
                    }
                    if (text.startsWith("count:") || text.startsWith("fail-after:")) {
                        int count = Integer.parseInt(text.substring(text.indexOf(':') + 1));
                        ReplyStream stream = request.openStream();
                        for (int i = 1; i <= count; i++) {
                            stream.send(Integer.toString(i).getBytes(UTF_8));
                            sent.incrementAndGet();
                        }
                        if (text.startsWith("fail-after:")) {
                            throw new ApplicationException(1409, "stopped after " + count);
                        }
                        return null;
                    }
                    if (text.equals("idle-stream")) {
                        ReplyStream stream = request.openStream();
                        CountDownLatch gone = new CountDownLatch(1);
                        request.onCancel(gone::countDown);
                        stream.send("ready".getBytes(UTF_8));
                        gone.await(60, TimeUnit.SECONDS); // a watch with nothing to say holds its handler
                        return null;
                    }
                    if (text.equals("forever")) {
                        ReplyStream stream = request.openStream();
                        try {
                            for (long i = 1; ; i++) {
                                stream.send(Long.toString(i).getBytes(UTF_8));
                                sent.incrementAndGet();
                            }
                        } catch (CancellationException e) {
                            cancelled.add("forever: " + e.getMessage());
                            throw e;
                        }
                    }
                    return request.payload();
                })
                .build()
                .start());
    }

    @Test
    void aCallerThatGivesUpIsSeenAsCancelledByTheHandler() throws Exception {
        BlockingQueue<String> cancelled = new LinkedBlockingQueue<>();
        IpcServer server = streamingServer(cancelled, new AtomicInteger());
        IpcClient client = client(server, ConnectionOptions.defaults());
        byte[] hold = "hold".getBytes(UTF_8);
        // A timeout: the deadline travels with the request, and the handler sees it pass.
        assertThrows(SocketTimeoutException.class, () -> client.call(hold, Duration.ofMillis(300)));
        assertEquals("hold with a deadline", cancelled.poll(20, TimeUnit.SECONDS));
        // cancel() on the future, with no deadline: the CANCEL frame tells the server.
        CompletableFuture<byte[]> async = client.callAsync(hold, Duration.ZERO);
        assertThrows(TimeoutException.class, () -> async.get(200, TimeUnit.MILLISECONDS));
        async.cancel(true);
        assertEquals("hold", cancelled.poll(20, TimeUnit.SECONDS));
        // Closing the client tells the server too.
        IpcClient closer = IpcClient.connect(server.endpoint());
        CompletableFuture<byte[]> cut = closer.callAsync(hold, Duration.ZERO);
        assertThrows(TimeoutException.class, () -> cut.get(200, TimeUnit.MILLISECONDS));
        closer.close();
        assertEquals("hold", cancelled.poll(20, TimeUnit.SECONDS));
        assertThrows(ExecutionException.class, () -> cut.get(20, TimeUnit.SECONDS));
        assertEquals("still here", new String(client.call("still here".getBytes(UTF_8)), UTF_8));
        assertEquals(0, client.stats().inFlight(), "the cancelled calls' places came back with their answers");
    }

    @Test
    void aStreamedReplyIsReadAsItComesAndASlowReaderSlowsTheHandler() throws Exception {
        AtomicInteger sent = new AtomicInteger();
        IpcServer server = streamingServer(new LinkedBlockingQueue<>(), sent);
        int window = 8;
        IpcClient client = client(
                server,
                ClientOptions.builder().set(ClientOptions.STREAM_WINDOW, window).build());
        try (StreamingCall numbers = client.stream("count:500".getBytes(UTF_8))) {
            for (int read = 1; read <= 500; read++) {
                byte[] message = numbers.next(Duration.ofSeconds(20));
                assertEquals(Integer.toString(read), new String(message, UTF_8));
                // The handler runs no further ahead than the window and the credit the reader has granted.
                assertTrue(sent.get() <= read + window, sent.get() + " sent when " + read + " were read");
                if (read == 1) {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (sent.get() < window && System.nanoTime() < deadline) {
                        Thread.onSpinWait(); // the handler fills the window while this reader dawdles
                    }
                    assertEquals(window, sent.get(), "the handler filled the window, and went no further");
                }
            }
            assertEquals(null, numbers.next(Duration.ofSeconds(20)), "then the end");
            assertTrue(numbers.isDone());
        }
        List<String> all = new ArrayList<>();
        try (StreamingCall numbers = client.stream("count:40".getBytes(UTF_8))) {
            numbers.forEach(message -> all.add(new String(message, UTF_8)));
        }
        assertEquals(40, all.size());
        assertEquals("40", all.get(39));
        // A single reply read as a stream is a stream of one.
        try (StreamingCall one = client.stream("plain".getBytes(UTF_8))) {
            assertEquals("plain", new String(one.next(), UTF_8));
            assertEquals(null, one.next());
        }
        // A stream asked of call(), which takes one reply, fails that call only, as the server's incident.
        RemoteException refused = assertThrows(RemoteException.class, () -> client.call("count:3".getBytes(UTF_8)));
        assertEquals(ErrorCode.INTERNAL, refused.code());
        assertEquals("fine", new String(client.call("fine".getBytes(UTF_8)), UTF_8));
    }

    @Test
    void aStreamEndsWithTheHandlersErrorAfterItsMessages() throws Exception {
        IpcServer server = streamingServer(new LinkedBlockingQueue<>(), new AtomicInteger());
        IpcClient client = client(server, ConnectionOptions.defaults());
        try (StreamingCall numbers = client.stream("fail-after:3".getBytes(UTF_8))) {
            for (int i = 1; i <= 3; i++) {
                assertEquals(Integer.toString(i), new String(numbers.next(Duration.ofSeconds(20)), UTF_8));
            }
            ApplicationException failed = assertThrows(ApplicationException.class, numbers::next);
            assertEquals(1409, failed.applicationCode());
            assertEquals("stopped after 3", failed.remoteMessage());
        }
    }

    @Test
    void closingAStreamOrItsDeadlineCancelsTheHandler() throws Exception {
        BlockingQueue<String> cancelled = new LinkedBlockingQueue<>();
        IpcServer server = streamingServer(cancelled, new AtomicInteger());
        IpcClient client = client(server, ConnectionOptions.defaults());
        StreamingCall ticks = client.stream("forever".getBytes(UTF_8));
        for (int i = 1; i <= 3; i++) {
            assertEquals(Integer.toString(i), new String(ticks.next(Duration.ofSeconds(20)), UTF_8));
        }
        ticks.close();
        String seen = cancelled.poll(20, TimeUnit.SECONDS);
        assertTrue(seen != null && seen.contains("its client cancelled it"), String.valueOf(seen));
        assertThrows(CancellationException.class, ticks::next);
        StreamingCall timed = client.stream("forever".getBytes(UTF_8), Duration.ofMillis(300));
        SocketTimeoutException late = assertThrows(SocketTimeoutException.class, () -> {
            while (true) {
                timed.next(Duration.ofSeconds(20));
            }
        });
        assertTrue(late.getMessage().contains("within PT0.3S"), late.getMessage());
        assertTrue(String.valueOf(cancelled.poll(20, TimeUnit.SECONDS)).startsWith("forever"));
        assertEquals("on", new String(client.call("on".getBytes(UTF_8)), UTF_8));
    }

    @Test
    void aPublisherDeliversWhatItsSubscriberAsksForAndCancels() throws Exception {
        BlockingQueue<String> cancelled = new LinkedBlockingQueue<>();
        IpcServer server = streamingServer(cancelled, new AtomicInteger());
        IpcClient client = client(server, ConnectionOptions.defaults());
        List<String> received = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> completed = new CompletableFuture<>();
        client.publisher("count:50".getBytes(UTF_8)).subscribe(new Flow.Subscriber<>() {
            private Flow.Subscription subscription;

            @Override
            public void onSubscribe(Flow.Subscription subscription) {
                this.subscription = subscription;
                subscription.request(1);
            }

            @Override
            public void onNext(byte[] item) {
                received.add(new String(item, UTF_8));
                subscription.request(1); // one at a time: the demand is the flow control
            }

            @Override
            public void onError(Throwable throwable) {
                completed.completeExceptionally(throwable);
            }

            @Override
            public void onComplete() {
                completed.complete(null);
            }
        });
        completed.get(30, TimeUnit.SECONDS);
        assertEquals(50, received.size());
        assertEquals("50", received.get(49));
        CountDownLatch five = new CountDownLatch(5);
        client.publisher("forever".getBytes(UTF_8)).subscribe(new Flow.Subscriber<>() {
            private Flow.Subscription subscription;

            @Override
            public void onSubscribe(Flow.Subscription subscription) {
                this.subscription = subscription;
                subscription.request(5);
            }

            @Override
            public void onNext(byte[] item) {
                five.countDown();
                if (five.getCount() == 0) {
                    subscription.cancel();
                }
            }

            @Override
            public void onError(Throwable throwable) {}

            @Override
            public void onComplete() {}
        });
        assertTrue(five.await(30, TimeUnit.SECONDS));
        assertTrue(String.valueOf(cancelled.poll(20, TimeUnit.SECONDS)).contains("its client cancelled it"));
    }

    /**
     * A stream holds its handler's thread for as long as it lasts: more streams than the default workers (JDK 17's
     * platform pool) must still leave room for plain calls.
     */
    @Test
    void streamsNeverTakeEveryWorker() throws Exception {
        IpcServer server = streamingServer(new LinkedBlockingQueue<>(), new AtomicInteger());
        IpcClient client = client(server, ConnectionOptions.defaults());
        int count = Math.max(8, 4 * Runtime.getRuntime().availableProcessors()) + 2;
        List<StreamingCall> streams = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                StreamingCall stream = client.stream("idle-stream".getBytes(UTF_8));
                streams.add(stream);
                assertEquals("ready", new String(stream.next(Duration.ofSeconds(30)), UTF_8));
            }
            assertEquals("plain", new String(client.call("plain".getBytes(UTF_8)), UTF_8));
        } finally {
            streams.forEach(StreamingCall::close);
        }
    }

    @Test
    void directHandlersRunOnTheReadingThreadAndHoldUpOnlyTheirConnection() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch blocking = new CountDownLatch(1);
        Map<String, String> threads = new ConcurrentHashMap<>();
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.DIRECT_HANDLERS, true)
                        .build())
                .requestHandler(request -> {
                    String text = new String(request.payload(), UTF_8);
                    threads.put(text, Thread.currentThread().getName());
                    if (text.equals("block")) {
                        blocking.countDown();
                        assertTrue(release.await(30, TimeUnit.SECONDS));
                    }
                    if (text.equals("stream")) {
                        ReplyStream stream = request.openStream();
                        stream.send("one".getBytes(UTF_8));
                        stream.send("two".getBytes(UTF_8));
                        return null;
                    }
                    return request.payload();
                })
                .build()
                .start());
        IpcClient first = client(server, ConnectionOptions.defaults());
        IpcClient second = client(server, ConnectionOptions.defaults());
        assertEquals("hello", new String(first.call("hello".getBytes(UTF_8)), UTF_8));
        assertFalse(threads.get("hello").contains("-worker"), "ran on " + threads.get("hello"));
        // A blocked handler holds up its own connection's reading, and no other connection.
        CompletableFuture<byte[]> blocked = first.callAsync("block".getBytes(UTF_8));
        assertTrue(blocking.await(30, TimeUnit.SECONDS));
        assertEquals("other", new String(second.call("other".getBytes(UTF_8)), UTF_8));
        release.countDown();
        assertEquals("block", new String(blocked.get(30, TimeUnit.SECONDS), UTF_8));
        // A request that may be answered with a stream runs on a worker: its stream needs the connection read.
        try (StreamingCall stream = first.stream("stream".getBytes(UTF_8))) {
            assertEquals("one", new String(stream.next(Duration.ofSeconds(30)), UTF_8));
            assertEquals("two", new String(stream.next(Duration.ofSeconds(30)), UTF_8));
            assertEquals(null, stream.next(Duration.ofSeconds(30)));
        }
    }

    @Test
    void aServerShutdownEndsOpenStreamsAsCancelled() throws Exception {
        BlockingQueue<String> cancelled = new LinkedBlockingQueue<>();
        IpcServer server = streamingServer(cancelled, new AtomicInteger());
        IpcClient client = client(server, ConnectionOptions.defaults());
        StreamingCall ticks = client.stream("forever".getBytes(UTF_8));
        assertEquals("1", new String(ticks.next(Duration.ofSeconds(20)), UTF_8));
        Future<?> closing = threads.submit(() -> {
            server.close();
            return null;
        });
        RemoteException ended = assertThrows(RemoteException.class, () -> {
            while (true) {
                ticks.next(Duration.ofSeconds(20));
            }
        });
        assertEquals(ErrorCode.CANCELLED, ended.code());
        assertTrue(ended.getMessage().contains("shutting down"), ended.getMessage());
        assertTrue(ended.getMessage().contains("new connection"), "it may ask again: " + ended.getMessage());
        closing.get(30, TimeUnit.SECONDS);
        assertTrue(String.valueOf(cancelled.poll(20, TimeUnit.SECONDS)).contains("shutting down"));
    }

    @Test
    void callsFromManyThreadsAndClientsAllGetTheirOwnReplies() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        List<Future<Integer>> results = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
            IpcClient client = client(server, ConnectionOptions.defaults());
            for (int t = 0; t < 4; t++) {
                String prefix = c + "/" + t + "/";
                results.add(threads.submit(() -> {
                    for (int i = 0; i < 250; i++) {
                        byte[] request = (prefix + i).getBytes(UTF_8);
                        assertArrayEquals(request, client.call(request));
                    }
                    return 250;
                }));
            }
        }
        for (Future<Integer> result : results) {
            assertEquals(250, result.get(60, TimeUnit.SECONDS));
        }
    }

    // ---- bad input --------------------------------------------------------------------------------------

    @Test
    void aGarbageHelloGetsAnErrorFrameAndAClose() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Connection raw = closing(Ipc.connect(server.endpoint()));
        raw.output().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(UTF_8));
        List<String> errors = untilClosed(raw);
        assertEquals(1, errors.size(), errors.toString());
        assertTrue(errors.get(0).startsWith("PROTOCOL_ERROR bad hello"), errors.toString());

        Connection wrongVersion = closing(Ipc.connect(server.endpoint()));
        wrongVersion.send(WRONG_VERSION_HELLO);
        List<String> refused = untilClosed(wrongVersion);
        assertTrue(
                refused.get(0).contains("UNSUPPORTED_VERSION protocol version 0 is not spoken here"),
                refused.toString());
        assertEquals(0, handled.get());
    }

    /**
     * A connection refused before its WELCOME, by the transport's listener (the access policy, after TLS's handshake
     * where there is one) or by the server (a version it does not speak), is counted in connectionsRefused and told to
     * events() with its code and why.
     */
    @Test
    void refusalsBeforeTheWelcomeAreCountedAndTold() throws Exception {
        List<String> told = new CopyOnWriteArrayList<>();
        IpcServer.Events events = new IpcServer.Events() {
            @Override
            public void connectionRefused(String peer, ErrorCode code, String why) {
                told.add(code + " " + why);
            }
        };
        ConnectionOptions nobody = ConnectionOptions.builder()
                .set(ConnectionOptions.ACCESS, AccessPolicy.matching("nobody", false, peer -> false))
                .build();
        for (ConnectionOptions options : List.of(nobody, ConnectionOptions.defaults())) {
            told.clear();
            Endpoint endpoint = contract.newEndpoint(contract.directory());
            if (options == nobody && endpoint.parameters().containsKey("access")) {
                // The endpoint's own policy (an abstract name's) would override the options': one nobody has.
                endpoint = endpoint.withParameter("access", "uid:4294967294");
            }
            IpcServer server = closing(IpcServer.builder(endpoint)
                    .options(ServerOptions.builder().connection(options).build())
                    .handler(request -> request)
                    .events(events)
                    .build()
                    .start());
            String expected = options == nobody ? "UNAUTHORIZED" : "UNSUPPORTED_VERSION";
            List<String> refused;
            try {
                Connection raw = closing(Ipc.connect(server.endpoint()));
                raw.send(options == nobody ? HELLO : WRONG_VERSION_HELLO);
                refused = untilClosed(raw);
            } catch (RemoteException e) {
                refused = List.of(e.code() + " " + e.remoteMessage()); // refused before the connection was made
            }
            assertTrue(refused.get(0).startsWith(expected), refused.toString());
            assertEquals(1, server.stats().connectionsRefused(), "counted before the client read why");
            assertEquals(1, told.size(), told.toString());
            assertTrue(told.get(0).startsWith(expected), told.toString());
            server.close(); // the next one binds the same endpoint
        }
    }

    @Test
    void badLengthsCloseOnlyThatConnectionAndNeverReachTheHandler() throws Exception {
        int limit = 1024;
        IpcServer server = echoServer(ConnectionOptions.builder()
                .set(ConnectionOptions.MAX_FRAME_SIZE, limit)
                .build());
        IpcClient good = client(server, ConnectionOptions.defaults());
        for (long length : new long[] {0x7fffffffL, 0xffffffffL, limit + 5 + 1}) {
            Connection raw = welcomed(server);
            raw.output()
                    .write(ByteBuffer.allocate(8).putInt((int) length).putInt(0).array());
            List<String> errors = untilClosed(raw);
            assertEquals(1, errors.size(), errors.toString());
            assertTrue(
                    errors.get(0).startsWith("FRAME_TOO_LARGE a frame of " + length + " bytes is over the largest"),
                    errors.toString());
            assertEquals("ok", new String(good.call("ok".getBytes(UTF_8)), UTF_8), "other connections go on");
        }
        assertEquals(3, handled.get(), "only the good calls reached the handler");
    }

    @Test
    void aFrameCutAtEveryOffsetNeverReachesTheHandler() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        byte[] frame = lengthPrefixed(request(1, new byte[1024]));
        for (int cut = 0; cut < frame.length; cut++) {
            try (Connection raw = Ipc.connect(server.endpoint())) {
                raw.send(HELLO);
                raw.receive();
                raw.output().write(frame, 0, cut);
                raw.shutdownOutput();
                assertTrue(untilClosed(raw).isEmpty(), "cut at " + cut);
            }
        }
        assertEquals(0, handled.get(), "no partial frame reached the handler");
        IpcClient good = client(server, ConnectionOptions.defaults());
        assertEquals("after", new String(good.call("after".getBytes(UTF_8)), UTF_8));
    }

    @Test
    void aValidFrameFollowedByGarbageIsAnsweredThenClosed() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Connection raw = welcomed(server);
        raw.output().write(lengthPrefixed(request(7, "valid".getBytes(UTF_8))));
        raw.output().write(lengthPrefixed(new byte[] {99, 1, 2, 3}));
        byte[] reply = raw.receive();
        assertEquals(4, reply[0], "RESPONSE");
        assertEquals(7, ByteBuffer.wrap(reply, 1, 4).getInt());
        List<String> errors = untilClosed(raw);
        assertTrue(errors.size() == 1 && errors.get(0).startsWith("PROTOCOL_ERROR"), errors.toString());
        assertEquals(1, handled.get());
    }

    @Test
    void aThousandMalformedConnectionsDoNotHurtGoodClients() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Future<?> attack = threads.submit(() -> {
            for (int i = 0; i < 1000; i++) {
                try (Connection raw = Ipc.connect(server.endpoint())) {
                    raw.output()
                            .write(
                                    i % 2 == 0
                                            ? new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}
                                            : "garbage!".getBytes(UTF_8));
                    untilClosed(raw);
                }
            }
            return null;
        });
        List<Future<Integer>> good = new ArrayList<>();
        for (int c = 0; c < 10; c++) {
            IpcClient client = client(server, ConnectionOptions.defaults());
            good.add(threads.submit(() -> {
                for (int i = 0; i < 1000; i++) {
                    byte[] request = ("call " + i).getBytes(UTF_8);
                    assertArrayEquals(request, client.call(request));
                }
                return 1000;
            }));
        }
        for (Future<Integer> calls : good) {
            assertEquals(1000, calls.get(120, TimeUnit.SECONDS));
        }
        attack.get(120, TimeUnit.SECONDS);
        assertEquals(10_000, handled.get());
    }

    // ---- limits -----------------------------------------------------------------------------------------

    /**
     * The watchdog serves every connection, so it never waits on one: a session it times out while that session's
     * writer is stuck on a peer that reads nothing (holding the write lock) is closed anyway, and the timeouts of the
     * other connections still fire. Before, the watchdog waited on that lock to send the ERROR, and no timeout fired
     * again for any connection of the server.
     */
    @Test
    void aSessionStuckOnAPeerThatReadsNothingHoldsUpNoOtherTimeout() throws Exception {
        IpcServer server = echoServer(ServerOptions.builder()
                .set(ServerOptions.FRAME_TIMEOUT, Duration.ofSeconds(1))
                .set(ServerOptions.IDLE_TIMEOUT, Duration.ofSeconds(2))
                .set(ServerOptions.WRITE_TIMEOUT, Duration.ofMinutes(10))
                .build());
        Connection deaf = welcomed(server);
        for (int id = 1; id <= 16; id++) {
            deaf.send(request(id, new byte[1024 * 1024])); // 16 MiB of replies that nobody reads
        }
        deaf.output().write(new byte[] {0, 0, 0, 100, 3, 0, 0}); // a frame begun and never finished
        deaf.output().flush();
        Connection idle = welcomed(server);
        Future<List<String>> idleEnd = threads.submit(() -> untilClosed(idle));
        List<String> errors = idleEnd.get(30, TimeUnit.SECONDS);
        assertTrue(
                errors.size() == 1
                        && errors.get(0).startsWith("TIMEOUT")
                        && errors.get(0).contains("idleTimeout"),
                "the idle connection's end: " + errors);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (server.stats().connectionsOpen() > 0 && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(20); // polling the server's count: nothing to wait on
        }
        assertEquals(0, server.stats().connectionsOpen(), "the stuck session was closed too");
    }

    /**
     * A frame after the hello that is not a request (an unknown type, a CANCEL or CREDIT the version does not take) is
     * counted in the memory budget as it arrives and released once when refused: released twice, each such frame
     * widened the budget for good, until a request of twice the budget was taken.
     */
    @Test
    void framesRefusedAfterTheHelloLeaveTheMemoryBudgetAsTheyFoundIt() throws Exception {
        int budget = 256 * 1024;
        IpcServer server = echoServer(ServerOptions.builder()
                .set(ServerOptions.MAX_BUFFERED_BYTES, budget)
                .connection(ConnectionOptions.builder()
                        .set(ConnectionOptions.MAX_FRAME_SIZE, 4 * budget)
                        .build())
                .build());
        for (byte type : new byte[] {99, 11, 13, 1}) {
            Connection raw = welcomed(server);
            byte[] frame = new byte[200 * 1024];
            frame[0] = type;
            raw.send(frame);
            List<String> errors = untilClosed(raw);
            assertTrue(!errors.isEmpty() && errors.get(0).startsWith("PROTOCOL_ERROR"), errors.toString());
            raw.close();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((server.stats().connectionsOpen() != 0 || server.stats().bufferedBytes() != 0)
                && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(20); // the sessions end just after their peers see the close
        }
        assertEquals(0, server.stats().bufferedBytes(), "bytes counted once the refused connections ended");
        // A request of twice the budget still finds no room.
        IpcClient client = client(
                server,
                ConnectionOptions.builder()
                        .set(ConnectionOptions.MAX_FRAME_SIZE, 4 * budget)
                        .build());
        RemoteException dropped = assertThrows(RemoteException.class, () -> client.call(new byte[2 * budget]));
        assertEquals(ErrorCode.TOO_MANY_REQUESTS, dropped.code(), dropped.getMessage());
    }

    @Test
    void refusesConnectionsOverTheLimitWithAnErrorFrame() throws Exception {
        IpcServer server = echoServer(
                ServerOptions.builder().set(ServerOptions.MAX_CONNECTIONS, 2).build());
        client(server, ConnectionOptions.defaults());
        client(server, ConnectionOptions.defaults());
        RemoteException refused = assertThrows(
                RemoteException.class,
                () -> IpcClient.connect(
                        server.endpoint(),
                        ClientOptions.builder()
                                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                                .build()));
        assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, refused.code());
        assertTrue(refused.getMessage().contains("maximum of 2 connections"), refused.getMessage());
    }

    /**
     * Each request that may answer with a stream holds a worker while it streams, so a connection has at most
     * maxStreamsPerConnection of them in flight: more are refused without running, and plain calls go on (issue 27,
     * case 3).
     */
    @Test
    void streamsPastTheConnectionsLimitAreRefusedAndCallsGoOn() throws Exception {
        CountDownLatch ended = new CountDownLatch(1);
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.MAX_STREAMS_PER_CONNECTION, 4)
                        .build())
                .requestHandler(request -> {
                    if (!request.acceptsStream()) {
                        return request.payload();
                    }
                    request.openStream().send("open".getBytes(UTF_8));
                    ended.await(30, TimeUnit.SECONDS);
                    return null;
                })
                .build()
                .start());
        IpcClient client = client(server, ConnectionOptions.defaults());
        List<StreamingCall> open = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            StreamingCall watch = closing(client.stream(new byte[] {1}));
            assertEquals("open", new String(watch.next(Duration.ofSeconds(30)), UTF_8));
            open.add(watch);
        }
        StreamingCall fifth = closing(client.stream(new byte[] {1}));
        RemoteException refused = assertThrows(RemoteException.class, () -> fifth.next(Duration.ofSeconds(30)));
        assertEquals(ErrorCode.TOO_MANY_REQUESTS, refused.code());
        assertTrue(refused.getMessage().contains("maxStreamsPerConnection"), refused.getMessage());
        assertArrayEquals("plain".getBytes(UTF_8), client.call("plain".getBytes(UTF_8)));
        ended.countDown();
        for (StreamingCall watch : open) {
            assertEquals(null, watch.next(Duration.ofSeconds(30)), "the end of the stream");
        }
        StreamingCall again = closing(client.stream(new byte[] {1}));
        assertEquals("open", new String(again.next(Duration.ofSeconds(30)), UTF_8), "a place again, once they ended");
    }

    /**
     * Past maxConnections, the connection idle the longest gives way to a newcomer that said its hello, with an ERROR
     * that says why: connections that say HELLO and then nothing can't lock a server out (issue 27, case 9).
     */
    @Test
    void anIdleConnectionGivesWayToANewcomerPastTheLimit() throws Exception {
        IpcServer server = echoServer(
                ServerOptions.builder().set(ServerOptions.MAX_CONNECTIONS, 3).build());
        List<Future<List<String>>> ends = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Connection idle = welcomed(server);
            ends.add(threads.submit(() -> untilClosed(idle)));
        }
        // Refused until one of them has been idle for two seconds.
        IpcClient newcomer = null;
        long connecting = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (newcomer == null) {
            try {
                newcomer = client(server, ConnectionOptions.defaults());
            } catch (RemoteException e) {
                assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, e.code(), e.getMessage());
                assertTrue(System.nanoTime() < connecting, "no idle connection gave way in 30 s");
                TimeUnit.MILLISECONDS.sleep(100); // as a client retrying would
            }
        }
        assertArrayEquals("in".getBytes(UTF_8), newcomer.call("in".getBytes(UTF_8)));
        List<String> gaveWay = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (gaveWay == null && System.nanoTime() < deadline) {
            for (Future<List<String>> end : ends) {
                if (end.isDone()) {
                    gaveWay = end.get();
                }
            }
            TimeUnit.MILLISECONDS.sleep(10); // polling three futures: any one of them ends
        }
        assertTrue(
                gaveWay != null
                        && gaveWay.size() == 1
                        && gaveWay.get(0).startsWith("TOO_MANY_CONNECTIONS")
                        && gaveWay.get(0).contains("gave way to a newer one"),
                "how the idle connection ended: " + gaveWay);
        assertEquals(3, server.stats().connectionsOpen());
        assertEquals(2, ends.stream().filter(end -> !end.isDone()).count(), "the other two are still open");
    }

    @Test
    void refusesAPeerUserOverItsConnectionLimit() throws Exception {
        IpcServer server = echoServer(ServerOptions.builder()
                .set(ServerOptions.MAX_CONNECTIONS_PER_PEER, 1)
                .build());
        IpcClient first = client(server, ConnectionOptions.defaults()); // a uid on Unix, an address on TCP
        RemoteException refused = assertThrows(
                RemoteException.class,
                () -> IpcClient.connect(
                        server.endpoint(),
                        ClientOptions.builder()
                                .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                                .build()));
        assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, refused.code());
        assertTrue(refused.getMessage().contains("holds its maximum of 1 connections"), refused.getMessage());
        assertEquals("first", new String(first.call("first".getBytes(UTF_8)), UTF_8));
    }

    @Test
    void refusesRequestsOverTheInFlightLimitWhichIpcClientKeepsTo() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch twoArrived = new CountDownLatch(2);
        IpcServer server = closing(IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.MAX_IN_FLIGHT, 2)
                        .build())
                .asyncHandler(request -> {
                    twoArrived.countDown();
                    return CompletableFuture.supplyAsync(
                            () -> {
                                awaitQuietly(release);
                                return request;
                            },
                            threads); // not the common pool: it may have one thread, and these block
                })
                .build()
                .start());
        // A client that ignores the WELCOME's limit is refused; IpcClient keeps to it, and its third call waits.
        Connection raw = welcomed(server);
        for (int id = 1; id <= 3; id++) {
            raw.send(request(id, new byte[] {(byte) id}));
        }
        assertTrue(twoArrived.await(30, TimeUnit.SECONDS));
        byte[] refusal = raw.receive();
        Frame.Error error = (Frame.Error) Codec.decode(refusal, 1);
        assertEquals(3, error.id());
        assertEquals(ErrorCode.TOO_MANY_REQUESTS, error.errorCode());
        IpcClient client = client(server, ConnectionOptions.defaults());
        CompletableFuture<byte[]> waits = client.callAsync(new byte[] {4});
        release.countDown();
        assertArrayEquals(new byte[] {4}, waits.get(30, TimeUnit.SECONDS));
        for (int answered = 0; answered < 2; answered++) {
            assertEquals(Codec.RESPONSE, raw.receive()[0]);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void cutsOffSilentHalfFramedAndIdleConnections() throws Exception {
        IpcServer server = echoServer(ServerOptions.builder()
                .set(ConnectionOptions.HANDSHAKE_TIMEOUT, Duration.ofMillis(200))
                .set(ServerOptions.FRAME_TIMEOUT, Duration.ofMillis(200))
                .set(ServerOptions.IDLE_TIMEOUT, Duration.ofMillis(400))
                .build());
        Connection silent = closing(Ipc.connect(server.endpoint()));
        assertEquals(List.of("TIMEOUT no hello within handshakeTimeout PT0.2S"), untilClosed(silent));

        Connection slow = welcomed(server);
        slow.output().write(lengthPrefixed(request(1, new byte[100])), 0, 50);
        List<String> slowErrors = untilClosed(slow);
        assertTrue(slowErrors.get(0).startsWith("TIMEOUT a frame stopped arriving half way"), slowErrors.toString());

        Connection idle = welcomed(server);
        List<String> idleErrors = untilClosed(idle);
        assertTrue(idleErrors.get(0).startsWith("TIMEOUT idle"), idleErrors.toString());

        IpcClient client = client(server, ConnectionOptions.defaults());
        assertEquals("a", new String(client.call("a".getBytes(UTF_8)), UTF_8));
        assertEquals("b", new String(client.call("b".getBytes(UTF_8)), UTF_8));
        assertEquals(0, handled.get() - 2, "no partial frame reached the handler");
    }

    // ---- shutdown, death and restart ---------------------------------------------------------------------

    @Test
    void gracefulShutdownLetsAHundredCallsInFlightFinish() throws Exception {
        int calls = 100;
        CountDownLatch allArrived = new CountDownLatch(calls);
        CountDownLatch release = new CountDownLatch(1);
        IpcServer server = IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.MAX_IN_FLIGHT, calls)
                        .build())
                .asyncHandler(request -> {
                    allArrived.countDown();
                    return CompletableFuture.supplyAsync(
                            () -> {
                                awaitQuietly(release);
                                return request;
                            },
                            threads);
                })
                .build()
                .start();
        IpcClient client = client(
                server,
                ClientOptions.builder()
                        .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                        .build());
        List<CompletableFuture<byte[]>> replies = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            replies.add(client.callAsync(("in flight " + i).getBytes(UTF_8)));
        }
        assertTrue(allArrived.await(30, TimeUnit.SECONDS));
        Endpoint endpoint = server.endpoint();
        Future<?> closing = threads.submit(() -> {
            server.close();
            return null;
        });
        Connection late = awaitRefusedOrShuttingDown(endpoint);
        if (late != null) {
            late.close();
        }
        release.countDown();
        for (int i = 0; i < calls; i++) {
            assertEquals("in flight " + i, new String(replies.get(i).get(30, TimeUnit.SECONDS), UTF_8));
        }
        closing.get(30, TimeUnit.SECONDS);
        assertThrows(IOException.class, () -> client.call(new byte[1]), "the server is gone");
    }

    /**
     * A server that stops waiting for its client may end the connection with a reset, requests of the client still
     * unread: the calls its GOAWAY said it would not take still fail as not run, never as lost.
     */
    @Test
    void callsAfterTheGoawaysLastIdFailAsNotRunEvenWhenTheStreamIsReset() throws Exception {
        Listener listener = closing(Ipc.listen(contract.newEndpoint(contract.directory())));
        CountDownLatch bothSent = new CountDownLatch(1);
        Future<?> server = threads.submit(() -> {
            try (Connection connection = listener.accept()) {
                connection.receive(); // the HELLO
                connection.send(Codec.encode(new Frame.Welcome(2, 1 << 20, 16), 2));
                Frame.Request first = (Frame.Request) Codec.decode(connection.receive(), 2);
                connection.send(Codec.encode(new Frame.Response(first.id(), first.payload()), 2));
                assertTrue(bothSent.await(30, TimeUnit.SECONDS));
                connection.send(Codec.encode(new Frame.GoAway(first.id(), "going away"), 2));
                // Closed with the two later requests unread: the peer sees a reset, not an end of stream.
            }
            return null;
        });
        IpcClient client = closing(IpcClient.connect(
                listener.endpoint(),
                ClientOptions.builder()
                        .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                        .build()));
        assertEquals("one", new String(client.call("one".getBytes(UTF_8)), UTF_8));
        CompletableFuture<byte[]> second = client.callAsync("two".getBytes(UTF_8));
        CompletableFuture<byte[]> third = client.callAsync("three".getBytes(UTF_8));
        bothSent.countDown();
        server.get(30, TimeUnit.SECONDS);
        for (CompletableFuture<byte[]> call : List.of(second, third)) {
            ExecutionException failed = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
            assertTrue(failed.getCause() instanceof NotRunException, "not run, not lost: " + failed.getCause());
        }
    }

    @Test
    void aShutdownLosesNoCallAndRunsNoneTwice() throws Exception {
        int calls = 1000;
        Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        CountDownLatch someRan = new CountDownLatch(50);
        IpcServer server = IpcServer.builder(contract.newEndpoint(contract.directory()))
                .options(ServerOptions.builder()
                        .set(ServerOptions.MAX_IN_FLIGHT, 2 * calls)
                        .build())
                .handler(request -> {
                    runs.computeIfAbsent(new String(request, UTF_8), key -> new AtomicInteger())
                            .incrementAndGet();
                    someRan.countDown();
                    Thread.sleep(1);
                    return request;
                })
                .build()
                .start();
        IpcClient client = client(
                server,
                ClientOptions.builder()
                        .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                        .set(ClientOptions.CALL_TIMEOUT, Duration.ofSeconds(60))
                        .build());
        // Calls go out while the server closes: some before its GOAWAY, some after, some on no connection at all.
        List<CompletableFuture<byte[]>> replies = new ArrayList<>();
        Future<?> closing = null;
        for (int i = 0; i < calls; i++) {
            replies.add(client.callAsync(("call " + i).getBytes(UTF_8)));
            if (closing == null && someRan.getCount() == 0) {
                closing = threads.submit(() -> {
                    server.close();
                    return null;
                });
            }
        }
        if (closing == null) {
            assertTrue(someRan.await(30, TimeUnit.SECONDS));
            closing = threads.submit(() -> {
                server.close();
                return null;
            });
        }
        closing.get(60, TimeUnit.SECONDS);
        int answered = 0;
        int notRun = 0;
        for (int i = 0; i < calls; i++) {
            String call = "call " + i;
            try {
                assertEquals(call, new String(replies.get(i).get(60, TimeUnit.SECONDS), UTF_8));
                answered++;
                assertEquals(1, runs.get(call).get(), call + " ran once");
            } catch (ExecutionException e) {
                // Not run, or never sent: a call after the server had gone fails to connect.
                boolean connectFailed =
                        !(e.getCause() instanceof ConnectionLostException || e.getCause() instanceof RemoteException);
                assertTrue(
                        e.getCause() instanceof NotRunException || connectFailed,
                        call + " failed with " + e.getCause() + ", not as a call that did not run");
                assertTrue(!runs.containsKey(call), call + " is reported not run, but the handler ran it");
                notRun++;
            }
        }
        assertEquals(runs.size(), answered, "every call the handler ran was answered");
        assertEquals(calls, answered + notRun);
    }

    @Test
    void aCloseDuringStartLeavesNothingBoundOrRunning() throws Exception {
        for (int i = 0; i < 20; i++) {
            IpcServer server = IpcServer.builder(contract.newEndpoint(contract.directory()))
                    .handler(request -> request)
                    .build();
            Future<IpcServer> starting = threads.submit(server::start);
            server.close(); // as a signal's shutdown hook would, at any moment of the start
            try {
                starting.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                assertTrue(
                        e.getCause() instanceof IllegalStateException
                                && e.getCause().getMessage().contains("already started, or closed"),
                        "a start after the close is refused: " + e.getCause());
            }
            server.close(); // then nothing is bound or running: the contract's leak checks see to that
        }
    }

    @Test
    void aClientThatEndsItsOutputStillGetsEveryReply() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Connection raw = welcomed(server);
        for (int id = 1; id <= 20; id++) {
            raw.send(request(id, ("half-closed " + id).getBytes(UTF_8)));
        }
        raw.shutdownOutput();
        List<Integer> answered = new ArrayList<>();
        for (byte[] frame = raw.receive(); frame != null; frame = raw.receive()) {
            assertEquals(4, frame[0], "RESPONSE");
            answered.add(ByteBuffer.wrap(frame, 1, 4).getInt());
        }
        Collections.sort(answered);
        assertEquals(IntStream.rangeClosed(1, 20).boxed().collect(Collectors.toList()), answered);
    }

    /** Once close() has begun, the endpoint refuses new connections; returns null when it does. */
    private static Connection awaitRefusedOrShuttingDown(Endpoint endpoint) {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < until) {
            try {
                Connection probe = Ipc.connect(endpoint);
                probe.close();
            } catch (IOException e) {
                return null; // released at once, while calls are still in flight
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("the endpoint was not released while calls were in flight");
    }

    @Test
    void aServerKilledWithCallsInFlightFailsThemWithinASecond() throws Exception {
        Process peer = startPeer(ServerPeer.class, contract.newEndpoint(contract.directory()));
        try {
            Endpoint endpoint = Endpoint.parse(readyLine(peer));
            IpcClient client = closing(IpcClient.connect(
                    endpoint,
                    ClientOptions.builder()
                            .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ofMillis(200))
                            .build()));
            assertEquals("alive", new String(client.call("alive".getBytes(UTF_8)), UTF_8));
            CompletableFuture<byte[]> hanging = client.callAsync("hang".getBytes(UTF_8));
            peer.destroyForcibly();
            long killed = System.nanoTime();
            ExecutionException lost = assertThrows(ExecutionException.class, () -> hanging.get(5, TimeUnit.SECONDS));
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            assertTrue(lost.getCause() instanceof ConnectionLostException, String.valueOf(lost.getCause()));
            assertTrue(tookMillis < 1000, "the call failed " + tookMillis + " ms after the kill");
            assertThrows(IOException.class, () -> client.call(new byte[1]), "nobody to reconnect to");
        } finally {
            reap(peer);
            cleanUpAfterKilledServer();
        }
    }

    @Test
    void theAcceptLoopOutlivesRunningOutOfDescriptors() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash for ulimit");
        List<String> javaCommand = JavaProcesses.command(
                ServerPeer.class.getName(),
                contract.newEndpoint(contract.directory()).toString());
        String command = "ulimit -n 128 && exec "
                + javaCommand.stream().map(arg -> "'" + arg + "'").collect(Collectors.joining(" "));
        Process peer = new ProcessBuilder("/bin/bash", "-c", command).start();
        List<Connection> flood = new ArrayList<>();
        try {
            Endpoint endpoint = Endpoint.parse(readyLine(peer));
            BufferedReader log = new BufferedReader(new InputStreamReader(peer.getErrorStream(), UTF_8));
            List<String> printed = Collections.synchronizedList(new ArrayList<>());
            Future<String> outOfDescriptors = threads.submit(() -> {
                for (String line = log.readLine(); line != null; line = log.readLine()) {
                    printed.add(line);
                    if (line.contains("accepting on") && line.contains("failed")) {
                        return line;
                    }
                }
                return null;
            });
            ConnectionOptions quick = ConnectionOptions.builder()
                    .set(ConnectionOptions.HANDSHAKE_TIMEOUT, Duration.ofSeconds(2))
                    .build();
            for (int i = 0; i < 200 && !outOfDescriptors.isDone(); i++) {
                Connection raw;
                try {
                    raw = Ipc.connect(endpoint, quick);
                } catch (IOException e) {
                    // Over TLS a connect includes the server's side of the handshake, which a server out of
                    // descriptors can't take up: the limit is reached.
                    break;
                }
                flood.add(raw);
                raw.send(HELLO);
            }
            String warning;
            try {
                warning = outOfDescriptors.get(30, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError(
                        "no accept failure after " + flood.size() + " connections; the server said: " + printed, e);
            }
            assertTrue(warning != null && warning.contains("trying again"), String.valueOf(warning));
            for (Connection raw : flood) {
                raw.close();
            }
            flood.clear();
            try (IpcClient client = IpcClient.connect(
                    endpoint,
                    ClientOptions.builder()
                            .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ofSeconds(10))
                            .build())) {
                assertEquals(
                        "back",
                        new String(client.call("back".getBytes(UTF_8)), UTF_8),
                        "the listener stayed open and service resumed");
            }
            assertTrue(peer.isAlive());
        } finally {
            for (Connection raw : flood) {
                raw.close();
            }
            reap(peer);
            cleanUpAfterKilledServer();
        }
    }

    @Test
    void aClientKilledMidFrameCostsTheServerOnlyThatConnection() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Process peer = startPeer(RawPeer.class, server.endpoint());
        try {
            assertEquals("SENT", readLine(peer));
            peer.destroyForcibly();
            assertTrue(peer.waitFor(10, TimeUnit.SECONDS));
            IpcClient client = client(server, ConnectionOptions.defaults());
            assertEquals("still serving", new String(client.call("still serving".getBytes(UTF_8)), UTF_8));
            assertEquals(1, handled.get(), "the half frame never reached the handler");
        } finally {
            reap(peer);
        }
    }

    @Test
    void theClientReconnectsToARestartedServer() throws Exception {
        IpcServer first = echoServer(ConnectionOptions.defaults());
        IpcClient client = client(
                first,
                ClientOptions.builder()
                        .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ofSeconds(10))
                        .build());
        assertEquals("one", new String(client.call("one".getBytes(UTF_8)), UTF_8));
        Endpoint bound = first.endpoint();
        first.close();
        IpcServer second = closing(
                IpcServer.builder(bound).handler(request -> request).build().start());
        assertEquals(bound.withoutParameters(), second.endpoint().withoutParameters());
        assertEquals("two", new String(client.call("two".getBytes(UTF_8)), UTF_8));
    }

    // ---- other languages ----------------------------------------------------------------------------------

    @Test
    void aPythonClientSpeaksTheProtocol() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(python), "python3 is not installed at /usr/bin/python3");
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Path script = contract.directory().resolve("ipc_client.py");
        try (InputStream source = RuntimeContract.class.getResourceAsStream("/ipc_client.py")) {
            Files.copy(source, script);
        }
        try {
            Process process = new ProcessBuilder(
                            python.toString(),
                            script.toString(),
                            server.endpoint().toString(),
                            "hello from python",
                            "boom",
                            "bye")
                    .redirectErrorStream(true)
                    .start();
            try {
                assertTrue(process.waitFor(30, TimeUnit.SECONDS));
                String output = new String(process.getInputStream().readAllBytes(), UTF_8);
                assertEquals(0, process.exitValue(), output);
                String[] lines = output.split("\n");
                assertEquals("hello from python", lines[0]);
                assertTrue(lines[1].startsWith("error 3: the server failed on this request"), lines[1]);
                assertEquals("bye", lines[2]);
            } finally {
                reap(process);
            }
        } finally {
            Files.delete(script);
        }
    }

    // ---- processes -----------------------------------------------------------------------------------------

    private static Process startPeer(Class<?> main, Endpoint endpoint) throws IOException {
        return new ProcessBuilder(JavaProcesses.command(main.getName(), endpoint.toString())).start();
    }

    private String readLine(Process process) throws Exception {
        BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8));
        return threads.submit(lines::readLine).get(30, TimeUnit.SECONDS);
    }

    private String readyLine(Process process) throws Exception {
        String line = readLine(process);
        assertTrue(line != null && line.startsWith("READY "), String.valueOf(line));
        return line.substring("READY ".length());
    }

    private static void reap(Process process) throws InterruptedException, IOException {
        JavaProcesses.reap(process);
    }

    /** A server killed with SIGKILL leaves its socket and lock files: remove them as a restart would. */
    private void cleanUpAfterKilledServer() throws IOException {
        try (Stream<Path> files = Files.walk(contract.directory())) {
            List<Path> left = new ArrayList<>();
            files.filter(path -> !path.equals(contract.directory())).forEach(left::add);
            Collections.reverse(left);
            for (Path path : left) {
                Files.delete(path);
            }
        }
    }

    @Test
    void aStoppedServerSaysSo() throws Exception {
        IpcServer server = echoServer(ConnectionOptions.defaults());
        Connection raw = welcomed(server);
        server.close();
        List<String> seen = new ArrayList<>();
        try {
            for (byte[] frame = raw.receive(); frame != null; frame = raw.receive()) {
                seen.add(String.valueOf(frame[0]));
            }
        } catch (IOException e) {
            // closed under us: fine
        }
        assertTrue(seen.contains("6"), "a GOAWAY frame came before the close: " + seen);
    }
}
