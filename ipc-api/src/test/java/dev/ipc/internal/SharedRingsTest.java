package dev.ipc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SharedRingsTest {

    @TempDir
    Path directory;

    private Mapping map(Path file, int capacity, FileChannel.MapMode mode) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(SharedRings.HEADER + capacity);
            Mapping mapping = Mapping.map(raf.getChannel(), mode, SharedRings.HEADER + capacity);
            return mapping;
        }
    }

    /**
     * A million small writes with no spinning, so that both sides sleep all the time: a lost wake-up would hang it (a
     * sleep marked with a value already woken, say).
     */
    @Test
    void streamsWithoutLosingAWakeUp() throws Exception {
        int capacity = 4096;
        Path a = directory.resolve("a");
        Path b = directory.resolve("b");
        Mapping aRw = map(a, capacity, FileChannel.MapMode.READ_WRITE);
        Mapping bRw = map(b, capacity, FileChannel.MapMode.READ_WRITE);
        Mapping aRo = map(a, capacity, FileChannel.MapMode.READ_ONLY);
        Mapping bRo = map(b, capacity, FileChannel.MapMode.READ_ONLY);
        Path socket = directory.resolve("s.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            SocketChannel one = SocketChannel.open(UnixDomainSocketAddress.of(socket));
            SocketChannel two = server.accept();
            SharedRings writer = new SharedRings("w", one, aRw, capacity, bRo, capacity, Duration.ZERO, false);
            SharedRings reader = new SharedRings("r", two, bRw, capacity, aRo, capacity, Duration.ZERO, false);
            long total = 68L * 1_000_000;
            CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
                ByteBuffer chunk = ByteBuffer.allocate(68);
                try {
                    for (long sent = 0; sent < total; sent += chunk.capacity()) {
                        chunk.clear();
                        writer.write(new ByteBuffer[] {chunk});
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            try {
                ByteBuffer sink = ByteBuffer.allocateDirect(32 * 1024);
                long got = 0;
                while (got < total) {
                    sink.clear();
                    got += reader.read(sink, 0);
                }
                writing.get(10, TimeUnit.SECONDS);
                assertEquals(total, got);
            } finally {
                Closer closer = new Closer();
                writer.close(closer);
                reader.close(closer);
                closer.close(one).close(two).rethrow();
            }
        }
    }
}
