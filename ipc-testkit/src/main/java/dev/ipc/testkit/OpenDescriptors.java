package dev.ipc.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** This process's open file descriptors, read from {@code /proc/self/fd}; for leak checks on Linux. */
public final class OpenDescriptors {

    private static final Path FDS = Path.of("/proc/self/fd");

    private OpenDescriptors() {}

    /** How many descriptors are open, or 0 where {@code /proc} is missing (the check then passes trivially). */
    public static long count() throws IOException {
        if (!Files.isDirectory(FDS)) {
            return 0;
        }
        try (Stream<Path> fds = Files.list(FDS)) {
            return fds.count();
        }
    }

    /** Each open descriptor and what it points to, for the message of a failed check. */
    public static String describe() throws IOException {
        if (!Files.isDirectory(FDS)) {
            return "";
        }
        try (Stream<Path> fds = Files.list(FDS)) {
            return fds.map(fd -> {
                        try {
                            return fd.getFileName() + "->" + Files.readSymbolicLink(fd);
                        } catch (IOException e) {
                            return fd.getFileName() + "->?";
                        }
                    })
                    .collect(Collectors.joining(", "));
        }
    }
}
