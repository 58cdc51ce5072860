package dev.ipc.bench;

import dev.ipc.Endpoint;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.util.ReferenceCountUtil;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Netty 4.2 as its users write it, the peer the library is measured against: epoll, one event loop per side, a pipeline
 * with a length-field decoder and prepender (the library's framing: a u32 length, then the message), an echo handler
 * that writes in {@code channelRead} and flushes in {@code channelReadComplete}, a sink that releases what it reads.
 * The client writes with {@code writeAndFlush} per message from the caller's thread, waits while the channel is not
 * writable (Netty's backpressure), and hands replies to the caller through a queue.
 */
final class NettyPeer {

    /** The largest message the peers frame: the benchmark's largest size and its header. */
    private static final int MAX_FRAME = 16 << 20;

    private NettyPeer() {}

    /** Where a Netty socket binds or connects for {@code endpoint}: a domain socket's path, or a TCP address. */
    private static SocketAddress address(Endpoint endpoint) {
        return endpoint.isUnix()
                ? new DomainSocketAddress(endpoint.path().orElseThrow().toString())
                : new InetSocketAddress(endpoint.host(), endpoint.port());
    }

    private static ChannelInitializer<Channel> framed(ChannelInboundHandlerAdapter handler) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel channel) {
                channel.pipeline()
                        .addLast(new LengthFieldBasedFrameDecoder(MAX_FRAME, 0, 4, 0, 4))
                        .addLast(new LengthFieldPrepender(4))
                        .addLast(handler);
            }
        };
    }

    /** Serves on {@code endpoint} (port 0 picks one); echoes each message, or drains them. */
    static BenchServer.Serving serve(Endpoint endpoint, boolean echo) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ChannelInboundHandlerAdapter handler = echo ? new Echo() : new Sink();
        try {
            if (endpoint.isUnix()) {
                Files.deleteIfExists(endpoint.path().orElseThrow());
            }
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(endpoint.isUnix() ? EpollServerDomainSocketChannel.class : EpollServerSocketChannel.class)
                    .childHandler(framed(handler))
                    .bind(address(endpoint))
                    .sync()
                    .channel();
            Endpoint bound = endpoint.isUnix()
                    ? endpoint
                    : endpoint.withPort(((InetSocketAddress) server.localAddress()).getPort());
            return new BenchServer.Serving(bound, () -> {
                server.close().sync();
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
                if (endpoint.isUnix()) {
                    Files.deleteIfExists(endpoint.path().orElseThrow());
                }
            });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully();
            throw new InterruptedIOException("interrupted while binding " + endpoint);
        }
    }

    /** The echo server's handler: one per server, as its users share a stateless handler. */
    @ChannelHandler.Sharable
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg, ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    @ChannelHandler.Sharable
    private static final class Sink extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    /** A client connection as an {@link Exchange}. */
    static Exchange connect(Endpoint endpoint) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
        Object end = new Object();
        Object writable = new Object();
        ChannelInboundHandlerAdapter handler = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf frame = (ByteBuf) msg;
                try {
                    replies.add(ByteBufUtil.getBytes(frame));
                } finally {
                    frame.release();
                }
            }

            @Override
            public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                synchronized (writable) {
                    writable.notifyAll();
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                replies.add(end);
                synchronized (writable) {
                    writable.notifyAll();
                }
            }
        };
        Channel channel;
        try {
            Bootstrap bootstrap = new Bootstrap()
                    .group(group)
                    .channel(endpoint.isUnix() ? EpollDomainSocketChannel.class : EpollSocketChannel.class)
                    .handler(framed(handler));
            if (!endpoint.isUnix()) {
                bootstrap.option(ChannelOption.TCP_NODELAY, true);
            }
            channel = bootstrap.connect(address(endpoint)).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully();
            throw new InterruptedIOException("interrupted while connecting to " + endpoint);
        } catch (RuntimeException e) {
            group.shutdownGracefully();
            throw new IOException("could not connect to " + endpoint + ": " + e, e);
        }
        return new Exchange() {
            @Override
            public void send(byte[] message) throws IOException {
                if (!channel.isWritable()) {
                    awaitWritable();
                }
                channel.writeAndFlush(Unpooled.wrappedBuffer(message), channel.voidPromise());
            }

            /** Messages written since the last flush, handed to the event loop together (per thread). */
            private final ThreadLocal<List<ByteBuf>> burst = ThreadLocal.withInitial(ArrayList::new);

            /** Bursts handed to the event loop and not yet written. */
            private final Semaphore bursts = new Semaphore(16);

            @Override
            public void write(byte[] message) {
                burst.get().add(Unpooled.wrappedBuffer(message));
            }

            /**
             * Hands the burst to the event loop as one task that writes each message and flushes once: Netty at its
             * best, as the user who knows it would write it (a write from outside the event loop is a task of its own).
             */
            @Override
            public void flush() throws IOException {
                List<ByteBuf> messages = burst.get();
                if (messages.isEmpty()) {
                    return;
                }
                if (!channel.isWritable()) {
                    awaitWritable();
                }
                ByteBuf[] taken = messages.toArray(new ByteBuf[0]);
                messages.clear();
                try {
                    bursts.acquire(); // tasks not yet run are not counted by isWritable: bound them
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting to write");
                }
                channel.eventLoop().execute(() -> {
                    for (ByteBuf message : taken) {
                        channel.write(message, channel.voidPromise());
                    }
                    channel.flush();
                    bursts.release();
                });
            }

            private void awaitWritable() throws IOException {
                synchronized (writable) {
                    while (!channel.isWritable()) {
                        if (!channel.isActive()) {
                            throw new EOFException("the connection to " + endpoint + " closed");
                        }
                        try {
                            writable.wait(100);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new InterruptedIOException("interrupted while waiting to write");
                        }
                    }
                }
            }

            @Override
            public byte[] receive() throws IOException {
                try {
                    Object reply = replies.take();
                    if (reply == end) {
                        replies.add(end);
                        return null;
                    }
                    return (byte[]) reply;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for a reply");
                }
            }

            @Override
            public void close() throws IOException {
                try {
                    channel.close().sync();
                    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while closing");
                }
            }
        };
    }
}
