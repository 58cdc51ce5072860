package dev.ipc.cli;

import dev.ipc.ClientOptions;
import dev.ipc.Endpoint;
import java.time.Duration;

/** Durations on the command line, written as in endpoint queries (250ms, 5s, 2m, PT5S). */
final class Durations {

    private Durations() {}

    static Duration parse(String text) {
        // The endpoint query's grammar, so that a duration reads the same everywhere.
        return ClientOptions.builder()
                .query(Endpoint.parse("unix:/d?callTimeout=" + text))
                .build()
                .get(ClientOptions.CALL_TIMEOUT);
    }
}
