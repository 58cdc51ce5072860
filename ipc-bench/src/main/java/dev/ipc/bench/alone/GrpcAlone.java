package dev.ipc.bench.alone;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * gRPC-java measured on its own, as its guides use it and sharing no code with the benchmark, to check the benchmark's
 * gRPC figures: a server in a second process (grpc-netty on a Unix socket, a direct executor: the handlers never
 * block), and a client on one channel: the blocking stub's unary call (round trip), the async stub with 16 calls in
 * flight (calls per second), and a client stream that sends while {@code isReady()} and resumes in its on-ready handler
 * (messages per second, counted by the server).
 *
 * <p>{@code GrpcAlone client roundtrip|async16|stream SIZE SOCKET-PATH SERVER-COMMAND...} prints one line: {@code grpc
 * roundtrip 64 p50-us p99-us} or {@code grpc async16|stream 64 per-second}. {@code GrpcAlone server [echo|sink] PATH}
 * serves until its standard input closes, answering {@code COUNT} with the messages received.
 */
public final class GrpcAlone {

    /** gRPC's stack runs at 1 to 3 ms a call until it is compiled: warm up for 10 s (30,000 round trips, or 20 s). */
    private static final long WARM_NANOS = TimeUnit.SECONDS.toNanos(10);

    private static final long MEASURE_NANOS = TimeUnit.SECONDS.toNanos(2);

    private static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private static final MethodDescriptor<byte[], byte[]> UNARY = MethodDescriptor.newBuilder(RAW, RAW)
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("alone.Alone/Echo")
            .build();

    private static final MethodDescriptor<byte[], byte[]> UPLOAD = MethodDescriptor.newBuilder(RAW, RAW)
            .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
            .setFullMethodName("alone.Alone/Upload")
            .build();

    private GrpcAlone() {}

    public static void main(String[] args) throws Exception {
        if (args[0].equals("server")) {
            serve(args[args.length - 1]); // server [echo|sink] PATH: one service does both
            return;
        }
        try (Alone.Server server = Alone.Server.start(Arrays.copyOfRange(args, 4, args.length))) {
            System.out.println(client(args[1], Integer.parseInt(args[2]), args[3], server));
        }
    }

    private static void serve(String path) throws Exception {
        AtomicLong received = new AtomicLong();
        Files.deleteIfExists(Path.of(path));
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Server server = NettyServerBuilder.forAddress(new DomainSocketAddress(path))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                .directExecutor()
                .addService(ServerServiceDefinition.builder("alone.Alone")
                        .addMethod(UNARY, ServerCalls.asyncUnaryCall((request, response) -> {
                            received.incrementAndGet();
                            response.onNext(request);
                            response.onCompleted();
                        }))
                        .addMethod(
                                UPLOAD,
                                ServerCalls.asyncClientStreamingCall(
                                        (StreamObserver<byte[]> response) -> new StreamObserver<byte[]>() {
                                            @Override
                                            public void onNext(byte[] value) {
                                                received.incrementAndGet();
                                            }

                                            @Override
                                            public void onError(Throwable t) {}

                                            @Override
                                            public void onCompleted() {
                                                response.onNext(new byte[0]);
                                                response.onCompleted();
                                            }
                                        }))
                        .build())
                .build()
                .start();
        Alone.serveCommands(received::get);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        Files.deleteIfExists(Path.of(path));
    }

    private static String client(String mode, int size, String path, Alone.Server server) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(path))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .directExecutor()
                .usePlaintext()
                .build();
        byte[] message = new byte[size];
        try {
            switch (mode) {
                case "roundtrip":
                    return roundTrip(channel, message);
                case "async16":
                    return async(channel, message);
                default:
                    return stream(channel, message, server);
            }
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static String roundTrip(ManagedChannel channel, byte[] message) {
        long end = System.nanoTime() + WARM_NANOS;
        for (int i = 0; i < 30_000 && System.nanoTime() < end; i++) {
            ClientCalls.blockingUnaryCall(channel, UNARY, CallOptions.DEFAULT, message);
        }
        long[] samples = new long[1 << 20];
        int n = 0;
        end = System.nanoTime() + MEASURE_NANOS;
        while (n < samples.length) {
            long start = System.nanoTime();
            if (start > end) {
                break;
            }
            ClientCalls.blockingUnaryCall(channel, UNARY, CallOptions.DEFAULT, message);
            samples[n++] = System.nanoTime() - start;
        }
        Arrays.sort(samples, 0, n);
        return String.format(
                Locale.ROOT,
                "grpc roundtrip %d %.1f %.1f",
                message.length,
                samples[n / 2] / 1e3,
                samples[n * 99 / 100] / 1e3);
    }

    /** The async stub's way: 16 calls in flight, each reply making the next call. */
    private static String async(ManagedChannel channel, byte[] message) throws InterruptedException {
        Semaphore inFlight = new Semaphore(16);
        AtomicLong done = new AtomicLong();
        long warmEnd = System.nanoTime() + WARM_NANOS;
        long end = warmEnd + MEASURE_NANOS;
        long counted = -1;
        while (System.nanoTime() < end) {
            if (counted < 0 && System.nanoTime() >= warmEnd) {
                counted = done.get();
            }
            inFlight.acquire();
            ClientCalls.asyncUnaryCall(channel.newCall(UNARY, CallOptions.DEFAULT), message, new StreamObserver<>() {
                @Override
                public void onNext(byte[] value) {}

                @Override
                public void onError(Throwable t) {
                    inFlight.release();
                }

                @Override
                public void onCompleted() {
                    done.incrementAndGet();
                    inFlight.release();
                }
            });
        }
        inFlight.acquire(16);
        return String.format(
                Locale.ROOT, "grpc async16 %d %.0f", message.length, (done.get() - counted) / (MEASURE_NANOS / 1e9));
    }

    /** A client stream sending while the transport is ready, counted by the server. */
    private static String stream(ManagedChannel channel, byte[] message, Alone.Server server) throws Exception {
        CountDownLatch finished = new CountDownLatch(1);
        Object ready = new Object();
        ClientCallStreamObserver<byte[]>[] requests = new ClientCallStreamObserver[1];
        ClientCalls.asyncClientStreamingCall(
                channel.newCall(UPLOAD, CallOptions.DEFAULT), new ClientResponseObserver<byte[], byte[]>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<byte[]> stream) {
                        requests[0] = stream;
                        stream.setOnReadyHandler(() -> {
                            synchronized (ready) {
                                ready.notifyAll();
                            }
                        });
                    }

                    @Override
                    public void onNext(byte[] value) {}

                    @Override
                    public void onError(Throwable t) {
                        finished.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        finished.countDown();
                    }
                });
        long warmEnd = System.nanoTime() + WARM_NANOS;
        long end = warmEnd + MEASURE_NANOS;
        long before = -1;
        long start = 0;
        while (System.nanoTime() < end) {
            if (before < 0 && System.nanoTime() >= warmEnd) {
                before = server.count();
                start = System.nanoTime();
            }
            synchronized (ready) {
                while (!requests[0].isReady()) {
                    ready.wait(100);
                }
            }
            requests[0].onNext(message);
        }
        long after = server.count();
        double seconds = (System.nanoTime() - start) / 1e9;
        requests[0].onCompleted();
        finished.await(10, TimeUnit.SECONDS);
        return String.format(Locale.ROOT, "grpc stream %d %.0f", message.length, (after - before) / seconds);
    }
}
