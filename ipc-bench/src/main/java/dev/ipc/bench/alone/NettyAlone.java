package dev.ipc.bench.alone;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.util.ReferenceCountUtil;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Netty measured on its own, written as Netty's examples write it and sharing no code with the benchmark, to check the
 * benchmark's Netty figures: a server (an echo that writes in {@code channelRead} and flushes in
 * {@code channelReadComplete}, or a sink that counts) in a second process, and a client that runs everything in its
 * event loop. Round trip: the event loop writes the next message when the echo of the last arrives (Netty's
 * {@code EchoClient}). One-way: the event loop writes while the channel is writable, {@code writeAndFlush} per message
 * or {@code write} per message and {@code flush} per burst of 64, and resumes when it becomes writable again; the
 * server counts what arrives, and the rate is its count over the measured seconds.
 *
 * <p>{@code NettyAlone client roundtrip|stream|bursts SIZE SOCKET-PATH SERVER-COMMAND...} prints one line: {@code netty
 * roundtrip 64 p50-us p99-us} or {@code netty stream 64 messages-per-second}. {@code NettyAlone server echo|sink PATH}
 * serves until its standard input closes, answering {@code COUNT} with the messages received.
 */
public final class NettyAlone {

    private static final int WARM_MILLIS = 1000;
    private static final int MEASURE_MILLIS = 2000;

    private NettyAlone() {}

    public static void main(String[] args) throws Exception {
        if (args[0].equals("server")) {
            serve(args[1].equals("echo"), args[2]);
        } else {
            Alone.Server server = Alone.Server.start(Arrays.copyOfRange(args, 4, args.length));
            try {
                System.out.println(client(args[1], Integer.parseInt(args[2]), args[3], server));
            } finally {
                server.close();
            }
        }
    }

    private static ChannelInitializer<Channel> framed(ChannelInboundHandlerAdapter handler) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel channel) {
                channel.pipeline()
                        .addLast(new LengthFieldBasedFrameDecoder(16 << 20, 0, 4, 0, 4))
                        .addLast(new LengthFieldPrepender(4))
                        .addLast(handler);
            }
        };
    }

    private static void serve(boolean echo, String path) throws Exception {
        AtomicLong received = new AtomicLong();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Files.deleteIfExists(Path.of(path));
        Channel server = new ServerBootstrap()
                .group(group)
                .channel(EpollServerDomainSocketChannel.class)
                .childHandler(framed(new ServerHandler(echo, received)))
                .bind(new DomainSocketAddress(path))
                .sync()
                .channel();
        Alone.serveCommands(received::get);
        server.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        Files.deleteIfExists(Path.of(path));
    }

    /** The server's handler, shared by its connections: echoes (flushing when a read ends) or drains, counting. */
    @ChannelHandler.Sharable
    private static final class ServerHandler extends ChannelInboundHandlerAdapter {
        private final boolean echo;
        private final AtomicLong received;

        ServerHandler(boolean echo, AtomicLong received) {
            this.echo = echo;
            this.received = received;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received.incrementAndGet();
            if (echo) {
                ctx.write(msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    private static String client(String mode, int size, String path, Alone.Server server) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ByteBuf content = Unpooled.directBuffer(size).writeZero(size);
        byte[] data = new byte[size]; // what a stream sends: the application's bytes, copied into Netty's buffers
        CountDownLatch done = new CountDownLatch(1);
        long[] samples = new long[1 << 20];
        int[] taken = {0};
        boolean[] stop = {false};
        ChannelInboundHandlerAdapter handler = mode.equals("roundtrip")
                ? new ChannelInboundHandlerAdapter() {
                    private long sent;
                    private final long start = System.nanoTime();

                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        sent = System.nanoTime();
                        ctx.writeAndFlush(content.retainedDuplicate());
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        long now = System.nanoTime();
                        ReferenceCountUtil.release(msg);
                        if (now - start > TimeUnit.MILLISECONDS.toNanos(WARM_MILLIS) && taken[0] < samples.length) {
                            samples[taken[0]++] = now - sent;
                        }
                        if (now - start > TimeUnit.MILLISECONDS.toNanos(WARM_MILLIS + MEASURE_MILLIS)) {
                            done.countDown();
                            return;
                        }
                        sent = System.nanoTime();
                        ctx.writeAndFlush(content.retainedDuplicate());
                    }
                }
                : new ChannelInboundHandlerAdapter() {
                    private final boolean bursts = mode.equals("bursts");

                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        generate(ctx);
                    }

                    @Override
                    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                        generate(ctx);
                    }

                    private void generate(ChannelHandlerContext ctx) {
                        while (ctx.channel().isWritable() && !stop[0]) {
                            if (bursts) {
                                for (int i = 0; i < 64; i++) {
                                    ctx.write(ctx.alloc().directBuffer(size).writeBytes(data), ctx.voidPromise());
                                }
                                ctx.flush();
                            } else {
                                ctx.writeAndFlush(ctx.alloc().directBuffer(size).writeBytes(data), ctx.voidPromise());
                            }
                        }
                    }
                };
        Channel channel = new Bootstrap()
                .group(group)
                .channel(EpollDomainSocketChannel.class)
                .handler(framed(handler))
                .connect(new DomainSocketAddress(path))
                .sync()
                .channel();
        try {
            if (mode.equals("roundtrip")) {
                done.await(30, TimeUnit.SECONDS);
                long[] sorted = Arrays.copyOf(samples, taken[0]);
                Arrays.sort(sorted);
                return String.format(
                        Locale.ROOT,
                        "netty roundtrip %d %.1f %.1f",
                        size,
                        sorted[sorted.length / 2] / 1e3,
                        sorted[sorted.length * 99 / 100] / 1e3);
            }
            Thread.sleep(WARM_MILLIS);
            long before = server.count();
            long start = System.nanoTime();
            Thread.sleep(MEASURE_MILLIS);
            long after = server.count();
            double seconds = (System.nanoTime() - start) / 1e9;
            channel.eventLoop().execute(() -> stop[0] = true);
            return String.format(Locale.ROOT, "netty %s %d %.0f", mode, size, (after - before) / seconds);
        } finally {
            channel.close().sync();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            content.release();
        }
    }
}
