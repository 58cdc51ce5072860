package dev.ipc.examples;

import dev.ipc.ApplicationException;
import dev.ipc.IpcClient;
import dev.ipc.ReplyStream;
import dev.ipc.Request;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The key-value store behind {@code kvd}, and the message format {@code kv} speaks to it.
 *
 * <p>A request is a command line, {@code get KEY}, {@code put KEY}, {@code del KEY}, {@code list [PREFIX]} or
 * {@code watch [PREFIX]}, followed for {@code put} by a line break and the value's bytes. A reply is a status byte
 * ({@link #OK}, {@link #NOT_FOUND}, {@link #BAD_REQUEST}) and the data: the value, or keys one per line. Keys are UTF-8
 * without spaces or line breaks; values are any bytes. Held in memory: the data lives as long as the daemon.
 *
 * <p>{@code watch} answers with a stream ({@link IpcClient#stream(byte[])}): first {@code watching PREFIX} once the
 * watch is in place, then each change to a key with that prefix as it happens, {@code put KEY}, a line break and the
 * value, or {@code del KEY}. A watcher that falls more than {@link #WATCH_BACKLOG_BYTES} bytes of changes behind is
 * ended with application error {@link #FELL_BEHIND} (watch again, and list what you missed), so a stalled watcher costs
 * the daemon a bounded queue (by bytes, not by count: a count let 1,024 values of 1 MiB pile up per watcher), never its
 * memory.
 */
final class KvStore {

    static final byte OK = 0;
    static final byte NOT_FOUND = 1;
    static final byte BAD_REQUEST = 2;
    /**
     * The bytes of changes a watcher may fall behind by before it is ended (each change counted with its key, its value
     * and {@link #CHANGE_OVERHEAD} more): a watcher that stops reading holds at most this much of the daemon's heap,
     * whatever the size of the values.
     */
    static final long WATCH_BACKLOG_BYTES = 1024 * 1024;
    /** What one queued change costs beyond its bytes (the array's header, the queue's node), rounded up. */
    static final int CHANGE_OVERHEAD = 64;
    /** The application error that ends a watcher that fell behind. */
    static final int FELL_BEHIND = 1429;

    private static final byte[] CANCELLED = new byte[0];

    private final Map<String, byte[]> entries = new ConcurrentSkipListMap<>();
    private final List<Watcher> watchers = new CopyOnWriteArrayList<>();

    /** One watch: the prefix it follows, and the changes not yet sent, bounded by their bytes. */
    private static final class Watcher {
        final String prefix;
        final BlockingQueue<byte[]> changes = new LinkedBlockingQueue<>();
        final AtomicBoolean fellBehind = new AtomicBoolean();
        private long queuedBytes; // guarded by this

        Watcher(String prefix) {
            this.prefix = prefix;
        }

        void tell(String key, byte[] change) {
            if (!key.startsWith(prefix) || fellBehind.get()) {
                return;
            }
            synchronized (this) {
                if (queuedBytes + change.length + CHANGE_OVERHEAD > WATCH_BACKLOG_BYTES) {
                    fellBehind.set(true);
                    changes.clear();
                    queuedBytes = 0;
                    changes.offer(CANCELLED); // wakes it, to end
                    return;
                }
                queuedBytes += change.length + CHANGE_OVERHEAD;
                changes.offer(change);
            }
        }

        /** The next change, once taken off the backlog. */
        byte[] take() throws InterruptedException {
            byte[] change = changes.take();
            synchronized (this) {
                if (change != CANCELLED && !fellBehind.get()) {
                    queuedBytes -= change.length + CHANGE_OVERHEAD;
                }
            }
            return change;
        }
    }

    /** Answers one request, a watch by a stream; thread-safe. */
    byte[] handle(Request request) throws InterruptedException, ApplicationException {
        byte[] payload = request.payload();
        String line = new String(payload, StandardCharsets.UTF_8);
        if (line.equals("watch") || line.startsWith("watch ")) {
            String prefix = line.equals("watch") ? "" : line.substring("watch ".length());
            if (!request.acceptsStream()) {
                return reply(BAD_REQUEST, "watch answers with a stream: read it with IpcClient.stream (kv watch)");
            }
            if (!prefix.isEmpty() && !isKey(prefix)) {
                return reply(BAD_REQUEST, "a prefix has no spaces or line breaks, was '" + prefix + "'");
            }
            return watch(request, prefix);
        }
        return handle(payload);
    }

    /** Streams the changes under {@code prefix} until the watcher cancels (or the daemon stops). */
    private byte[] watch(Request request, String prefix) throws InterruptedException, ApplicationException {
        ReplyStream stream = request.openStream();
        Watcher watcher = new Watcher(prefix);
        watchers.add(watcher);
        try {
            request.onCancel(() -> watcher.changes.offer(CANCELLED)); // wakes the wait below at once
            stream.send(("watching " + prefix).getBytes(StandardCharsets.UTF_8));
            while (true) {
                byte[] change = watcher.take();
                if (watcher.fellBehind.get()) {
                    throw new ApplicationException(
                            FELL_BEHIND,
                            "this watcher fell more than " + WATCH_BACKLOG_BYTES + " bytes of changes behind; watch "
                                    + "again, and list what changed meanwhile");
                }
                if (change == CANCELLED) {
                    return null; // cancelled: the server answers CANCELLED whatever is returned
                }
                stream.send(change); // waits while the watcher reads slower than the changes come
            }
        } finally {
            watchers.remove(watcher);
        }
    }

    private void changed(String key, byte[] change) {
        for (Watcher watcher : watchers) {
            watcher.tell(key, change);
        }
    }

    /** Answers one request of the basic commands (all but watch); thread-safe. */
    byte[] handle(byte[] request) {
        int newline = indexOf(request, (byte) '\n');
        String line = new String(request, 0, newline < 0 ? request.length : newline, StandardCharsets.UTF_8);
        String[] words = line.split(" ", -1);
        switch (words[0]) {
            case "get":
                if (words.length == 2 && isKey(words[1])) {
                    byte[] value = entries.get(words[1]);
                    return value == null ? reply(NOT_FOUND, "no key " + words[1]) : reply(OK, value);
                }
                break;
            case "put":
                if (words.length == 2 && isKey(words[1]) && newline >= 0) {
                    entries.put(words[1], Arrays.copyOfRange(request, newline + 1, request.length));
                    changed(words[1], request.clone());
                    return reply(OK, new byte[0]);
                }
                break;
            case "del":
                if (words.length == 2 && isKey(words[1])) {
                    if (entries.remove(words[1]) == null) {
                        return reply(NOT_FOUND, "no key " + words[1]);
                    }
                    changed(words[1], line.getBytes(StandardCharsets.UTF_8));
                    return reply(OK, new byte[0]);
                }
                break;
            case "list":
                if (words.length <= 2) {
                    String prefix = words.length == 2 ? words[1] : "";
                    ByteArrayOutputStream keys = new ByteArrayOutputStream();
                    for (String key : entries.keySet()) {
                        if (key.startsWith(prefix)) {
                            keys.writeBytes((key + "\n").getBytes(StandardCharsets.UTF_8));
                        }
                    }
                    return reply(OK, keys.toByteArray());
                }
                break;
            default:
                break;
        }
        return reply(
                BAD_REQUEST,
                "not a request: '" + line + "' (get KEY, put KEY, del KEY, list [PREFIX] or watch [PREFIX])");
    }

    static byte[] request(String command, String key, byte[] value) {
        byte[] head = (key == null ? command : command + " " + key).getBytes(StandardCharsets.UTF_8);
        if (value == null) {
            return head;
        }
        byte[] request = Arrays.copyOf(head, head.length + 1 + value.length);
        request[head.length] = '\n';
        System.arraycopy(value, 0, request, head.length + 1, value.length);
        return request;
    }

    static boolean isKey(String key) {
        return !key.isEmpty() && key.chars().noneMatch(c -> c == ' ' || c == '\n' || c == '\r');
    }

    private static byte[] reply(byte status, String message) {
        return reply(status, message.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] reply(byte status, byte[] data) {
        byte[] reply = new byte[1 + data.length];
        reply[0] = status;
        System.arraycopy(data, 0, reply, 1, data.length);
        return reply;
    }

    private static int indexOf(byte[] bytes, byte wanted) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == wanted) {
                return i;
            }
        }
        return -1;
    }
}
