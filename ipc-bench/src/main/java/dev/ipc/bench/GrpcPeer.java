package dev.ipc.bench;

import dev.ipc.Endpoint;
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
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * gRPC-java over a Unix socket, as its users write it without code generation: a service with a unary echo and a
 * client-streaming sink, byte arrays as messages (a marshaller that copies them), grpc-netty (its shaded Netty, epoll)
 * with one event loop per side and direct executors, the fastest setting gRPC offers.
 */
final class GrpcPeer {

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
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

    static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.newBuilder(BYTES, BYTES)
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("bench.Bench", "Echo"))
            .build();

    static final MethodDescriptor<byte[], byte[]> SINK = MethodDescriptor.newBuilder(BYTES, BYTES)
            .setType(MethodDescriptor.MethodType.CLIENT_STREAMING)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("bench.Bench", "Sink"))
            .build();

    /** Messages up to the benchmark's largest, and then some. */
    private static final int MAX_MESSAGE = 16 << 20;

    private GrpcPeer() {}

    /** Serves the echo and the sink on a Unix socket file. */
    static BenchServer.Serving serve(Endpoint endpoint, Tally tally) throws IOException {
        if (!endpoint.isUnix()) {
            throw new IllegalArgumentException("the gRPC peer serves on a Unix socket file, not " + endpoint);
        }
        Files.deleteIfExists(endpoint.path().orElseThrow());
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup worker = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ServerServiceDefinition service = ServerServiceDefinition.builder("bench.Bench")
                .addMethod(ECHO, ServerCalls.asyncUnaryCall((request, reply) -> {
                    tally.arrived();
                    reply.onNext(request);
                    reply.onCompleted();
                }))
                .addMethod(SINK, ServerCalls.asyncClientStreamingCall(reply -> new StreamObserver<byte[]>() {
                    @Override
                    public void onNext(byte[] message) {
                        tally.arrived();
                    }

                    @Override
                    public void onError(Throwable t) {
                        tally.failed(t);
                    }

                    @Override
                    public void onCompleted() {
                        reply.onNext(new byte[0]);
                        reply.onCompleted();
                    }
                }))
                .build();
        Server server = NettyServerBuilder.forAddress(
                        new DomainSocketAddress(endpoint.path().orElseThrow().toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(worker)
                .directExecutor()
                .maxInboundMessageSize(MAX_MESSAGE)
                .addService(service)
                .build()
                .start();
        return new BenchServer.Serving(
                endpoint,
                () -> {
                    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                    worker.shutdownGracefully(0, 1, TimeUnit.SECONDS);
                    Files.deleteIfExists(endpoint.path().orElseThrow());
                },
                tally);
    }

    /**
     * A client as an {@link Exchange}: against an echo server, {@code send} then {@code receive} is one unary call
     * ({@link Exchange#call} too, from any thread); against a sink, {@code send} is one message of a client stream,
     * waiting while gRPC's flow control says it is not ready.
     */
    static Exchange connect(Endpoint endpoint, boolean echo) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel channel = NettyChannelBuilder.forAddress(
                        new DomainSocketAddress(endpoint.path().orElseThrow().toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .usePlaintext()
                .directExecutor()
                .maxInboundMessageSize(MAX_MESSAGE)
                .build();
        return echo ? new Unary(channel, group) : new ClientStream(channel, group);
    }

    private abstract static class Client implements Exchange {
        final ManagedChannel channel;
        private final EventLoopGroup group;

        Client(ManagedChannel channel, EventLoopGroup group) {
            this.channel = channel;
            this.group = group;
        }

        @Override
        public void close() throws IOException {
            try {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while closing");
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
        }
    }

    private static final class Unary extends Client {
        private byte[] next;

        Unary(ManagedChannel channel, EventLoopGroup group) {
            super(channel, group);
        }

        @Override
        public void send(byte[] message) {
            next = message;
        }

        @Override
        public byte[] receive() {
            return call(next);
        }

        @Override
        public byte[] call(byte[] message) {
            return ClientCalls.blockingUnaryCall(channel, ECHO, CallOptions.DEFAULT, message);
        }

        /** The async stub's way: a unary call whose observer completes the future on gRPC's executor. */
        @Override
        public CompletableFuture<byte[]> callAsync(byte[] message) {
            CompletableFuture<byte[]> reply = new CompletableFuture<>();
            ClientCalls.asyncUnaryCall(channel.newCall(ECHO, CallOptions.DEFAULT), message, new StreamObserver<>() {
                @Override
                public void onNext(byte[] value) {
                    reply.complete(value);
                }

                @Override
                public void onError(Throwable t) {
                    reply.completeExceptionally(t);
                }

                @Override
                public void onCompleted() {}
            });
            return reply;
        }
    }

    private static final class ClientStream extends Client {
        private final Object ready = new Object();
        private final CompletableFuture<Void> done = new CompletableFuture<>();
        private final ClientCallStreamObserver<byte[]> requests;

        ClientStream(ManagedChannel channel, EventLoopGroup group) {
            super(channel, group);
            AtomicReference<ClientCallStreamObserver<byte[]>> started = new AtomicReference<>();
            ClientCalls.asyncClientStreamingCall(
                    channel.newCall(SINK, CallOptions.DEFAULT), new ClientResponseObserver<byte[], byte[]>() {
                        @Override
                        public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
                            started.set(requestStream);
                            requestStream.setOnReadyHandler(ClientStream.this::wake);
                        }

                        @Override
                        public void onNext(byte[] value) {}

                        @Override
                        public void onError(Throwable t) {
                            done.completeExceptionally(t);
                            wake();
                        }

                        @Override
                        public void onCompleted() {
                            done.complete(null);
                        }
                    });
            requests = started.get();
        }

        private void wake() {
            synchronized (ready) {
                ready.notifyAll();
            }
        }

        @Override
        public void send(byte[] message) throws IOException {
            if (!requests.isReady()) {
                synchronized (ready) {
                    while (!requests.isReady()) {
                        if (done.isDone()) {
                            throw new IOException("the stream ended: " + done);
                        }
                        try {
                            ready.wait(100);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new InterruptedIOException("interrupted while waiting to send");
                        }
                    }
                }
            }
            requests.onNext(message);
        }

        @Override
        public byte[] receive() {
            throw new UnsupportedOperationException("a client stream has no replies to receive");
        }

        @Override
        public void close() throws IOException {
            try {
                requests.onCompleted();
                done.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                // The sink's answer is not what is measured.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                super.close();
            }
        }
    }
}
