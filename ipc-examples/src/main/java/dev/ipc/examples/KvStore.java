package dev.ipc.examples;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The key-value store behind {@code kvd}, and the message format {@code kv} speaks to it.
 *
 * <p>A request is a command line, {@code get KEY}, {@code put KEY}, {@code del KEY} or {@code list [PREFIX]}, followed
 * for {@code put} by a line break and the value's bytes. A reply is a status byte ({@link #OK}, {@link #NOT_FOUND},
 * {@link #BAD_REQUEST}) and the data: the value, or keys one per line. Keys are UTF-8 without spaces or line breaks;
 * values are any bytes. Held in memory: the data lives as long as the daemon.
 */
final class KvStore {

    static final byte OK = 0;
    static final byte NOT_FOUND = 1;
    static final byte BAD_REQUEST = 2;

    private final Map<String, byte[]> entries = new ConcurrentSkipListMap<>();

    /** Answers one request; thread-safe. */
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
                    return reply(OK, new byte[0]);
                }
                break;
            case "del":
                if (words.length == 2 && isKey(words[1])) {
                    return entries.remove(words[1]) == null
                            ? reply(NOT_FOUND, "no key " + words[1])
                            : reply(OK, new byte[0]);
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
        return reply(BAD_REQUEST, "not a request: '" + line + "' (get KEY, put KEY, del KEY or list [PREFIX])");
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
