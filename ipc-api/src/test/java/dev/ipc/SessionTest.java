package dev.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.internal.Frame;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The server's and the client's sessions driven over an in-memory pair, without a socket or a server around them: the
 * orderings the protocol promises where threads race (GOAWAY and the replies it promises, CANCEL and a reply, credit
 * and a stream, an ERROR that ends a connection with a stream open). The runtime and conformance contracts prove the
 * same end to end, on every transport.
 */
@Timeout(30)
class SessionTest {

    private static final byte[] EMPTY = new byte[0];

    /** A handler that answers each request with its payload, at once. */
    private static IpcServer.AsyncRequestHandler echo() {
        return request -> CompletableFuture.completedFuture(request.payload());
    }

    @Test
    void goAwayComesBeforeTheRepliesItPromisesAndNothingAfterItRuns() throws Exception {
        CountDownLatch running = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        IpcServer.AsyncRequestHandler held = request -> {
            ran.incrementAndGet();
            running.countDown();
            return CompletableFuture.supplyAsync(() -> {
                awaitQuietly(release);
                return request.payload();
            });
        };
        try (SessionHarness harness = new SessionHarness(ServerOptions.defaults(), held)) {
            harness.hello(3);
            harness.send(new Frame.Request(1, 0, 0, new byte[] {1}));
            harness.send(new Frame.Request(2, 0, 0, new byte[] {2}));
            assertTrue(running.await(20, TimeUnit.SECONDS));
            harness.session.goAway();
            Frame.GoAway goAway = (Frame.GoAway) harness.read();
            assertEquals(2, goAway.lastId(), "the last request taken");
            harness.send(new Frame.Request(3, 0, 0, new byte[] {3}));
            Frame.Error refused = (Frame.Error) harness.read();
            assertEquals(3, refused.id());
            assertEquals(ErrorCode.SHUTTING_DOWN, refused.errorCode());
            release.countDown();
            Set<Integer> answered = new HashSet<>();
            for (int i = 0; i < 2; i++) {
                answered.add(((Frame.Response) harness.read()).id());
            }
            assertEquals(Set.of(1, 2), answered);
            harness.expectEnd();
            assertEquals(2, ran.get(), "request 3 did not run");
        }
    }

    @Test
    void aCancelRacingItsReplyLeavesExactlyOneAnswer() throws Exception {
        try (SessionHarness harness = new SessionHarness(ServerOptions.defaults(), echo())) {
            harness.hello(3);
            for (int round = 0; round < 8; round++) {
                for (int id = 1; id <= 50; id++) {
                    harness.send(new Frame.Request(id, 0, 0, new byte[] {(byte) id}));
                    harness.send(new Frame.Cancel(id));
                }
                Set<Integer> answered = new HashSet<>();
                for (int i = 0; i < 50; i++) {
                    Frame answer = harness.read();
                    if (answer instanceof Frame.Error error) {
                        assertEquals(ErrorCode.CANCELLED, error.errorCode());
                        assertTrue(answered.add(error.id()), "one answer for request " + error.id());
                    } else {
                        Frame.Response response = (Frame.Response) answer;
                        assertArrayEquals(new byte[] {(byte) response.id()}, response.payload());
                        assertTrue(answered.add(response.id()), "one answer for request " + response.id());
                    }
                }
            }
            // Nothing more was owed: the next frame answers the next request.
            harness.send(new Frame.Request(99, 0, 0, new byte[] {99}));
            assertEquals(99, ((Frame.Response) harness.read()).id());
            assertEquals(0, harness.context.counters().inFlight.sum());
        }
    }

    @Test
    void aStreamGoesNoFurtherThanItsCredit() throws Exception {
        AtomicInteger sent = new AtomicInteger();
        IpcServer.AsyncRequestHandler five = request -> {
            ReplyStream stream = request.openStream();
            for (int i = 0; i < 5; i++) {
                stream.send(new byte[] {(byte) i});
                sent.incrementAndGet();
            }
            return CompletableFuture.completedFuture(null);
        };
        try (SessionHarness harness = new SessionHarness(ServerOptions.defaults(), five)) {
            harness.hello(3);
            harness.send(new Frame.Request(7, 0, 2, "go".getBytes()));
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(new byte[] {(byte) i}, ((Frame.Stream) harness.read()).payload());
            }
            assertTrue(sent.get() <= 2, "the handler waits for credit after its window: " + sent.get());
            harness.send(new Frame.Credit(7, 3));
            for (int i = 2; i < 5; i++) {
                assertArrayEquals(new byte[] {(byte) i}, ((Frame.Stream) harness.read()).payload());
            }
            Frame.Response end = (Frame.Response) harness.read();
            assertEquals(7, end.id());
            assertArrayEquals(EMPTY, end.payload());
        }
    }

    @Test
    void aPublishedStreamAsksForNoMoreThanTheCreditAndHoldsNoWorker() throws Exception {
        AtomicLong asked = new AtomicLong();
        AtomicInteger next = new AtomicInteger();
        // Emits message i on demand, on the thread that asks, up to five; then completes.
        Flow.Publisher<byte[]> five = subscriber -> subscriber.onSubscribe(new Flow.Subscription() {
            private boolean emitting;
            private long owed;

            @Override
            public synchronized void request(long n) {
                asked.addAndGet(n);
                owed += n;
                if (emitting) {
                    return; // reentrant: the loop below delivers it
                }
                emitting = true;
                while (owed > 0 && next.get() < 5) {
                    owed--;
                    subscriber.onNext(new byte[] {(byte) next.getAndIncrement()});
                }
                emitting = false;
                if (next.get() == 5) {
                    subscriber.onComplete();
                }
            }

            @Override
            public void cancel() {}
        });
        try (SessionHarness harness = new SessionHarness(ServerOptions.defaults(), request -> request.stream(five))) {
            harness.hello(3);
            harness.send(new Frame.Request(7, 0, 2, "go".getBytes()));
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(new byte[] {(byte) i}, ((Frame.Stream) harness.read()).payload());
            }
            assertEquals(2, asked.get(), "asked for the window, no more");
            // Its handler returns once it has subscribed, while the stream goes on: it holds no worker.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (harness.session.openStreams() != 0 && System.nanoTime() < deadline) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            assertEquals(0, harness.session.openStreams(), "a stream open, and no handler holding a worker for it");
            harness.send(new Frame.Credit(7, 3));
            for (int i = 2; i < 5; i++) {
                assertArrayEquals(new byte[] {(byte) i}, ((Frame.Stream) harness.read()).payload());
            }
            Frame.Response end = (Frame.Response) harness.read();
            assertEquals(7, end.id());
            assertArrayEquals(EMPTY, end.payload(), "the publisher's completion ends the stream");
            assertTrue(asked.get() <= 5, "never more than the credit: " + asked.get());
        }
    }

    @Test
    void anErrorThatEndsTheConnectionAnswersItsOpenStreamsFirst() throws Exception {
        IpcServer.AsyncRequestHandler watch = request -> {
            request.openStream().send("first".getBytes());
            CompletableFuture<byte[]> over = new CompletableFuture<>();
            request.onCancel(() -> over.complete(null));
            return over;
        };
        // Far longer than the test's timeout: a session that waited for the stream to end by itself would fail it.
        ServerOptions patient = ServerOptions.builder()
                .set(ServerOptions.SHUTDOWN_TIMEOUT, Duration.ofMinutes(5))
                .build();
        try (SessionHarness harness = new SessionHarness(patient, watch)) {
            harness.hello(3);
            harness.send(new Frame.Request(5, 0, 1, "watch".getBytes()));
            assertArrayEquals("first".getBytes(), ((Frame.Stream) harness.read()).payload());
            harness.send(new Frame.Request(0, 0, 0, EMPTY)); // id 0: a protocol error that ends the connection
            Frame.Error stream = (Frame.Error) harness.read();
            assertEquals(5, stream.id());
            assertEquals(ErrorCode.CANCELLED, stream.errorCode());
            assertTrue(stream.message().contains("request id 0"), stream.message());
            Frame.Error end = (Frame.Error) harness.read();
            assertEquals(0, end.id());
            assertEquals(ErrorCode.PROTOCOL_ERROR, end.errorCode());
            harness.expectEnd();
        }
    }

    @Test
    void aClientSessionFailsTheCallsAGoAwayLeftOutAsNotRun() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        IpcServer.AsyncRequestHandler held = request -> {
            running.countDown();
            return CompletableFuture.supplyAsync(() -> {
                awaitQuietly(release);
                return request.payload();
            });
        };
        try (SessionHarness harness = new SessionHarness(ServerOptions.defaults(), held)) {
            ClientSession client = harness.clientSession();
            Call taken = call(client, new byte[] {1}, 0);
            assertTrue(running.await(20, TimeUnit.SECONDS));
            harness.session.goAway();
            Call late = call(client, new byte[] {2}, 0);
            ExecutionException notRun = assertThrows(ExecutionException.class, () -> late.future.get());
            assertInstanceOf(NotRunException.class, notRun.getCause());
            release.countDown();
            assertArrayEquals(new byte[] {1}, taken.future.get());
        }
    }

    @Test
    void aClientSessionReadsAStreamWithinItsWindow() throws Exception {
        IpcServer.AsyncRequestHandler many = request -> {
            ReplyStream stream = request.openStream();
            for (int i = 0; i < 200; i++) {
                stream.send(new byte[] {(byte) i});
            }
            return CompletableFuture.completedFuture(null);
        };
        try (SessionHarness harness = new SessionHarness(ServerOptions.defaults(), many)) {
            ClientSession client = harness.clientSession();
            Call call = call(client, "go".getBytes(), 4);
            int read = 0;
            for (byte[] message = call.stream.next(); message != null; message = call.stream.next()) {
                assertEquals((byte) read, message[0]);
                read++;
            }
            assertEquals(200, read, "every message, none past the credit (that would fail the call)");
        }
    }

    private static Call call(ClientSession client, byte[] payload, int window) throws CallQueueFullException {
        Call call = new Call(client, payload, Duration.ZERO, window);
        if (client.admit(call)) {
            client.send(call);
        }
        return call;
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
