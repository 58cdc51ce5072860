package dev.ipc;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** The counters behind {@link IpcServer#stats()}: cheap to bump on every request, from any thread. */
final class ServerCounters {
    final LongAdder accepted = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder requests = new LongAdder();
    final LongAdder inFlight = new LongAdder();
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    private final LongAdder[] errors = new LongAdder[ErrorCode.values().length];

    ServerCounters() {
        for (int i = 0; i < errors.length; i++) {
            errors[i] = new LongAdder();
        }
    }

    /** One more ERROR of {@code code} sent, or about to be. */
    void error(ErrorCode code) {
        errors[code.ordinal()].increment();
    }

    /** One more connection refused with {@code code}. */
    void refused(ErrorCode code) {
        refused.increment();
        error(code);
    }

    /** The snapshot, with the figures the counters do not hold. */
    ServerStats snapshot(long open, long inSharedMemory, long buffered) {
        Map<ErrorCode, Long> byCode = new EnumMap<>(ErrorCode.class);
        for (ErrorCode code : ErrorCode.values()) {
            long count = errors[code.ordinal()].sum();
            if (count > 0) {
                byCode.put(code, count);
            }
        }
        return new ServerStats(
                open,
                inSharedMemory,
                accepted.sum(),
                refused.sum(),
                requests.sum(),
                inFlight.sum(),
                bytesIn.sum(),
                bytesOut.sum(),
                buffered,
                byCode);
    }
}
