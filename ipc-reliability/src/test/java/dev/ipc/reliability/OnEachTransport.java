package dev.ipc.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ipc.Endpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the tests that run on a socket file and on TCP share: the endpoint for each, and the check, after each test,
 * that no socket or lock file was left in its directory.
 */
abstract class OnEachTransport {

    @TempDir
    Path directory;

    /** A fresh endpoint: a socket file in the test's directory for {@code unix}, TCP loopback port 0 otherwise. */
    Endpoint endpoint(String transport) {
        return transport.equals("unix") ? Endpoint.unix(directory.resolve("s.sock")) : Endpoint.tcp("127.0.0.1", 0);
    }

    @AfterEach
    void noSocketOrLockFileLeftBehind() throws IOException {
        try (Stream<Path> left = Files.list(directory)) {
            assertEquals(List.of(), left.collect(Collectors.toList()), "files left behind");
        }
    }
}
