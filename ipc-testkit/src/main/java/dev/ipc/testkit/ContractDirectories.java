package dev.ipc.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The directories a contract suite binds its socket files in: one short temporary directory per class (socket paths
 * stay far below the 108-byte limit), and in it one per test, checked empty after the test.
 */
final class ContractDirectories {

    private final Path root;
    private Path current;
    private int tests;

    /** Makes the class's directory, and in it {@code warmup}, the current one until {@link #next()}. */
    ContractDirectories(String prefix) throws IOException {
        root = Files.createTempDirectory(prefix);
        current = Files.createDirectory(root.resolve("warmup"));
    }

    /** The class's directory. */
    Path root() {
        return root;
    }

    /** The current test's directory. */
    Path current() {
        return current;
    }

    /** A fresh directory for the next test, which becomes the current one. */
    Path next() throws IOException {
        current = Files.createDirectory(root.resolve("t" + ++tests));
        return current;
    }

    /** Fails if the current test left anything in its directory: a socket file, a lock file, a private directory. */
    void assertCurrentEmpty() throws IOException {
        try (Stream<Path> files = Files.walk(current)) {
            List<Path> left = files.filter(path -> !path.equals(current)).collect(Collectors.toList());
            assertEquals(List.of(), left, "files left behind after the test");
        }
    }

    /** Deletes the class's directory and everything in it. */
    void deleteAll() throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path path : files.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.delete(path);
            }
        }
    }
}
