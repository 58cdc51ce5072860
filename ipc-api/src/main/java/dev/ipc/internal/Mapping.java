package dev.ipc.internal;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file mapped into memory, unmapped by {@link #unmap()} rather than whenever the collector finds the buffer: a
 * connection's rings are released when it closes, not when the heap next fills.
 *
 * <p>On JDK 22 and later the mapping belongs to a shared {@code Arena}, whose close makes any later access fail with an
 * exception. On 17 to 21 the buffer's cleaner unmaps it through {@code sun.misc.Unsafe.invokeCleaner}, after which an
 * access would crash the JVM: the caller must unmap only once no thread can touch the buffer again.
 */
final class Mapping {

    private static final Logger LOG = LoggerFactory.getLogger(Mapping.class);

    private final ByteBuffer buffer;
    private final AutoCloseable arena;

    private Mapping(ByteBuffer buffer, AutoCloseable arena) {
        this.buffer = buffer;
        this.arena = arena;
    }

    /** Maps {@code size} bytes of {@code file} from its start. */
    static Mapping map(FileChannel file, MapMode mode, long size) throws IOException {
        if (Arenas.MAP != null) {
            AutoCloseable arena = null;
            try {
                arena = (AutoCloseable) Arenas.OF_SHARED.invoke(null);
                Object segment = Arenas.MAP.invoke(file, mode, 0L, size, arena);
                return new Mapping((ByteBuffer) Arenas.AS_BYTE_BUFFER.invoke(segment), arena);
            } catch (InvocationTargetException e) {
                closeArena(arena);
                if (e.getCause() instanceof IOException) {
                    throw (IOException) e.getCause();
                }
                throw new IOException("cannot map " + size + " bytes: " + e.getCause(), e.getCause());
            } catch (ReflectiveOperationException | RuntimeException e) {
                closeArena(arena);
                throw new IOException("cannot map " + size + " bytes: " + e, e);
            }
        }
        return new Mapping(file.map(mode, 0, size), null);
    }

    /** The mapped bytes, direct; read-only where the file was mapped so. */
    ByteBuffer buffer() {
        return buffer;
    }

    /** Unmaps; see the class's note on when that is safe. Never throws. */
    void unmap() {
        if (arena != null) {
            closeArena(arena);
        } else if (Cleaner.INVOKE != null) {
            try {
                Cleaner.INVOKE.invoke(Cleaner.UNSAFE, buffer);
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.debug("could not unmap a shared-memory ring; the collector will: {}", e.toString());
            }
        }
    }

    private static void closeArena(AutoCloseable arena) {
        if (arena == null) {
            return;
        }
        try {
            arena.close();
        } catch (Exception e) {
            LOG.debug("could not unmap a shared-memory ring: {}", e.toString());
        }
    }

    /** JDK 22's {@code FileChannel.map(MapMode, long, long, Arena)}, looked up once; null before 22. */
    private static final class Arenas {
        static final Method OF_SHARED;
        static final Method MAP;
        static final Method AS_BYTE_BUFFER;

        static {
            Method ofShared = null;
            Method map = null;
            Method asByteBuffer = null;
            if (Runtime.version().feature() >= 22) {
                try {
                    Class<?> arena = Class.forName("java.lang.foreign.Arena");
                    ofShared = arena.getMethod("ofShared");
                    map = FileChannel.class.getMethod("map", MapMode.class, long.class, long.class, arena);
                    asByteBuffer =
                            Class.forName("java.lang.foreign.MemorySegment").getMethod("asByteBuffer");
                } catch (ReflectiveOperationException | RuntimeException e) {
                    map = null;
                }
            }
            OF_SHARED = ofShared;
            MAP = map;
            AS_BYTE_BUFFER = asByteBuffer;
        }
    }

    /** {@code sun.misc.Unsafe.invokeCleaner}, for JDK 17 to 21; null where it can't be reached. */
    private static final class Cleaner {
        static final Object UNSAFE;
        static final Method INVOKE;

        static {
            Object unsafe = null;
            Method invoke = null;
            try {
                Class<?> type = Class.forName("sun.misc.Unsafe");
                Field field = type.getDeclaredField("theUnsafe");
                field.setAccessible(true);
                unsafe = field.get(null);
                invoke = type.getMethod("invokeCleaner", ByteBuffer.class);
            } catch (ReflectiveOperationException | RuntimeException e) {
                invoke = null;
            }
            UNSAFE = unsafe;
            INVOKE = invoke;
        }
    }
}
