package dev.ipc.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Numeric ids of local users and groups by name, from {@code /etc/passwd} and {@code /etc/group}, read again when a
 * file changes. For a transport that names its peer (the JDK's Unix channels give user and group names) so that a
 * handler or a policy can still compare uids. Users known only through NSS (LDAP, say) are not found here.
 */
public final class Accounts {

    /** A file's name-to-id map, as read at its modification time. */
    private record Table(long modified, Map<String, Long> ids) {}

    /** One account file, read again when it changes. */
    private static final class Source {
        private final Path file;
        private volatile Table table = new Table(Long.MIN_VALUE, Map.of());

        Source(Path file) {
            this.file = file;
        }

        OptionalLong idOf(String name) {
            if (name == null) {
                return OptionalLong.empty();
            }
            table = fresh(table, file);
            Long id = table.ids().get(name);
            return id == null ? OptionalLong.empty() : OptionalLong.of(id);
        }
    }

    private static final Source USERS = new Source(Path.of("/etc/passwd"));
    private static final Source GROUPS = new Source(Path.of("/etc/group"));

    private Accounts() {}

    /** The uid of the user {@code name}, if {@code /etc/passwd} has it. */
    public static OptionalLong uidOf(String name) {
        return USERS.idOf(name);
    }

    /** The gid of the group {@code name}, if {@code /etc/group} has it. */
    public static OptionalLong gidOf(String name) {
        return GROUPS.idOf(name);
    }

    private static Table fresh(Table table, Path file) {
        try {
            long modified = Files.getLastModifiedTime(file).toMillis();
            if (modified == table.modified()) {
                return table;
            }
            Map<String, Long> ids = new HashMap<>();
            for (String line : Files.readAllLines(file)) {
                String[] fields = line.split(":", -1);
                if (fields.length > 2 && !fields[0].isEmpty()) {
                    try {
                        ids.putIfAbsent(fields[0], Long.parseLong(fields[2]));
                    } catch (NumberFormatException e) {
                        // a malformed line: skipped
                    }
                }
            }
            return new Table(modified, Map.copyOf(ids));
        } catch (IOException | RuntimeException e) {
            return table; // unreadable: what was known stays known
        }
    }
}
