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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Netty 4.2 as its own examples write it, the peer the library is measured against: epoll, one event loop per side, a
 * pipeline with a length-field decoder and prepender (the library's framing: a u32 length, then the message), an echo
 * handler that writes in {@code channelRead} and flushes in {@code channelReadComplete}, a sink that counts and
 * releases what it reads.
 *
 * <p>The client streams from its event loop, as Netty's own senders do: the benchmark's threads only count the messages
 * they ask for (waiting while 4,096, or 4 MiB, are asked for and not yet written), and the event loop writes them while
 * the channel is writable, with {@code writeAndFlush} per message (a send per message) or {@code write} per message and
 * {@code flush} per burst, resuming when the channel becomes writable again; a thread hands it work only when it is
 * idle. A round trip is the caller's {@code writeAndFlush} and a wait for the reply, which the event loop hands over
 * through a queue: how a blocking request-reply client on Netty is written. Any exception in either pipeline fails the
 * case.
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

    /** Serves on {@code endpoint} (port 0 picks one); echoes each message, or drains them, counting them. */
    static BenchServer.Serving serve(Endpoint endpoint, boolean echo, Tally tally) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ChannelInboundHandlerAdapter handler = echo ? new Echo(tally) : new Sink(tally);
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
            return new BenchServer.Serving(
                    bound,
                    () -> {
                        server.close().sync();
                        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
                        if (endpoint.isUnix()) {
                            Files.deleteIfExists(endpoint.path().orElseThrow());
                        }
                    },
                    tally);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully();
            throw new InterruptedIOException("interrupted while binding " + endpoint);
        }
    }

    /** A server's handler: one per server, as its users share a stateless handler; it counts what arrives. */
    @ChannelHandler.Sharable
    private static class Counting extends ChannelInboundHandlerAdapter {
        final Tally tally;

        Counting(Tally tally) {
            this.tally = tally;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            tally.arrived();
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            tally.failed(cause);
            ctx.close();
        }
    }

    /** The echo: writes in {@code channelRead}, flushes in {@code channelReadComplete}, as Netty's example does. */
    @ChannelHandler.Sharable
    private static final class Echo extends Counting {
        Echo(Tally tally) {
            super(tally);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            tally.arrived();
            ctx.write(msg, ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /** The sink: counts and releases. */
    @ChannelHandler.Sharable
    private static final class Sink extends Counting {
        Sink(Tally tally) {
            super(tally);
        }
    }

    /** A client connection as an {@link Exchange}. */
    static Exchange connect(Endpoint endpoint) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        return new Client(endpoint, group);
    }

    private static final class Client extends ChannelInboundHandlerAdapter implements Exchange {
        private final Endpoint endpoint;
        private final EventLoopGroup group;
        private final Channel channel;
        private final BlockingQueue<Object> replies = new LinkedBlockingQueue<>();
        private final Object end = new Object();
        private volatile Throwable failure;

        /** Messages the benchmark's threads have counted as sent: at most what the event loop has written. */
        private final AtomicLong consumed = new AtomicLong();

        /** Messages the event loop has written, published for the threads that count them. */
        private volatile long published;

        /** The event loop's: messages written, whether it keeps writing, and whether it flushes each or each burst. */
        private long written;

        private boolean running;
        private boolean flushEach;
        private byte[] payload;

        /** Whether the generator was started. */
        private volatile boolean started;

        private final Object progress = new Object();

        Client(Endpoint endpoint, EventLoopGroup group) throws IOException {
            this.endpoint = endpoint;
            this.group = group;
            try {
                Bootstrap bootstrap = new Bootstrap()
                        .group(group)
                        .channel(endpoint.isUnix() ? EpollDomainSocketChannel.class : EpollSocketChannel.class)
                        .handler(framed(this));
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
        }

        @Override
        public boolean isSharable() {
            return true; // one client, one channel: added once
        }

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
            generate();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            replies.add(end);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (failure == null) {
                failure = cause;
            }
            ctx.close();
        }

        /**
         * On the event loop: writes while the channel is writable (a writability change resumes it), as Netty's own
         * senders do, each message copied from the benchmark's array into a pooled direct buffer.
         */
        private void generate() {
            if (!running) {
                return;
            }
            // At most 256 messages a turn, then the rest in a task of its own: a channel that never fills (TCP with
            // a fast reader) would otherwise keep the event loop from everything else, the stop included.
            for (int turn = 0; channel.isWritable(); turn++) {
                if (turn == 256) {
                    publish();
                    channel.flush();
                    channel.eventLoop().execute(this::generate);
                    return;
                }
                ByteBuf buffer = channel.alloc().directBuffer(payload.length).writeBytes(payload);
                written++;
                if (flushEach) {
                    channel.writeAndFlush(buffer, channel.voidPromise());
                } else {
                    channel.write(buffer, channel.voidPromise());
                    if (written % StreamingBenchmark.BURST == 0) {
                        channel.flush();
                    }
                }
                if ((written & 255) == 0) {
                    publish();
                }
            }
            channel.flush(); // a burst cut short by a full channel must go for the channel to drain
            publish();
        }

        private void publish() {
            published = written;
            synchronized (progress) {
                progress.notifyAll();
            }
        }

        private void checkOpen() throws IOException {
            if (failure != null) {
                throw new IOException("Netty's pipeline failed: " + failure, failure);
            }
            if (!channel.isActive()) {
                throw new EOFException("the connection to " + endpoint + " closed");
            }
        }

        /** Counts one message the event loop wrote, starting it at the first, waiting while it has written no more. */
        private void count(byte[] message, boolean each) throws IOException {
            if (!started) {
                start(message, each);
            }
            long mine = consumed.incrementAndGet();
            if (published < mine) {
                synchronized (progress) {
                    while (published < mine) {
                        checkOpen();
                        try {
                            progress.wait(100);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new InterruptedIOException("interrupted while waiting for a write");
                        }
                    }
                }
            }
        }

        private synchronized void start(byte[] message, boolean each) {
            if (!started) {
                started = true;
                channel.eventLoop().execute(() -> {
                    payload = message.clone();
                    flushEach = each;
                    running = true;
                    generate();
                });
            }
        }

        /** One message of a stream: the event loop writes and flushes it. */
        @Override
        public void send(byte[] message) throws IOException {
            count(message, true);
        }

        /** One message of a burst: the event loop writes it, and flushes at the burst's end. */
        @Override
        public void write(byte[] message) throws IOException {
            count(message, false);
        }

        /** Stops the event loop's writing: returns how many messages it wrote. */
        @Override
        public long finish(long counted) throws IOException {
            if (!started) {
                return counted;
            }
            try {
                return channel.eventLoop()
                        .submit(() -> {
                            running = false;
                            channel.flush();
                            return written;
                        })
                        .get(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while stopping the writes");
            } catch (ExecutionException | TimeoutException e) {
                throw new IOException("could not stop the event loop's writes: " + e, e);
            }
        }

        /** The round trip's send: from the caller's thread, as a blocking request-reply client writes. */
        @Override
        public byte[] call(byte[] message) throws IOException {
            checkOpen();
            channel.writeAndFlush(Unpooled.wrappedBuffer(message), channel.voidPromise());
            return receive();
        }

        @Override
        public byte[] receive() throws IOException {
            try {
                Object reply = replies.take();
                if (reply == end) {
                    replies.add(end);
                    checkOpen();
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
    }
}
