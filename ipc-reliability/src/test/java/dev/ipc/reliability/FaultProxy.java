package dev.ipc.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback that forwards between a client and a server with a fault of its choosing: bytes sliced into
 * 1-byte writes, added latency, a reset after so many bytes, or a stall (bytes kept, connection open) after so many
 * bytes. Faults apply to the client-to-server direction; slicing and latency to both.
 */
final class FaultProxy implements AutoCloseable {

    /** What the proxy does to the traffic. */
    enum Fault {
        /** Every byte in its own write. */
        SLICE,
        /** {@link #latencyMillis} before each chunk is passed on. */
        DELAY,
        /** A TCP reset on both sides once {@link #afterBytes} have passed from the client. */
        RESET,
        /** Nothing more passed from the client once {@link #afterBytes} have; both sides stay open. */
        STALL
    }

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final Fault fault;
    private final long afterBytes;
    private final long latencyMillis;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final CountDownLatch faulted = new CountDownLatch(1);
    private volatile boolean closed;

    FaultProxy(int targetPort, Fault fault, long afterBytes, long latencyMillis) throws IOException {
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
        this.fault = fault;
        this.afterBytes = afterBytes;
        this.latencyMillis = latencyMillis;
        start("fault-proxy-accept", this::acceptLoop);
    }

    /** The port clients connect to. */
    int port() {
        return listener.getLocalPort();
    }

    /** Waits until the reset or stall has happened. */
    boolean awaitFault(long timeout, TimeUnit unit) throws InterruptedException {
        return faulted.await(timeout, unit);
    }

    private void start(String name, Runnable task) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        threads.add(thread);
        thread.start();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket();
                server.connect(target, 5000);
                for (Socket socket : List.of(client, server)) {
                    socket.setTcpNoDelay(true);
                    sockets.add(socket);
                }
                start("fault-proxy-up", () -> pump(client, server, true));
                start("fault-proxy-down", () -> pump(server, client, false));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void pump(Socket from, Socket to, boolean upstream) {
        AtomicLong passed = new AtomicLong();
        byte[] buffer = new byte[16 * 1024];
        try (InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream()) {
            for (int count = in.read(buffer); count >= 0; count = in.read(buffer)) {
                int allowed = count;
                if (upstream && (fault == Fault.RESET || fault == Fault.STALL)) {
                    allowed = (int) Math.max(0, Math.min(count, afterBytes - passed.get()));
                }
                forward(out, buffer, allowed);
                passed.addAndGet(allowed);
                if (allowed < count) {
                    faulted.countDown();
                    if (fault == Fault.RESET) {
                        reset(from);
                        reset(to);
                        return;
                    }
                    // STALL: keep reading (so the client's writes don't block on us) and pass nothing on.
                    while (in.read(buffer) >= 0) {
                        // dropped
                    }
                    return;
                }
            }
            to.shutdownOutput();
        } catch (IOException | InterruptedException e) {
            // one side went away or the proxy closed
        }
    }

    private void forward(OutputStream out, byte[] buffer, int count) throws IOException, InterruptedException {
        if (fault == Fault.DELAY && count > 0) {
            TimeUnit.MILLISECONDS.sleep(latencyMillis);
        }
        if (fault == Fault.SLICE) {
            for (int i = 0; i < count; i++) {
                out.write(buffer[i]);
                out.flush();
            }
        } else if (count > 0) {
            out.write(buffer, 0, count);
            out.flush();
        }
    }

    private static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0); // close with RST
            socket.close();
        } catch (IOException e) {
            // gone already
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
        for (Socket socket : sockets) {
            socket.close();
        }
        for (Thread thread : threads) {
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
