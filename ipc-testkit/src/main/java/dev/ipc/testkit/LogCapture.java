package dev.ipc.testkit;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * Captures what the library logs (through slf4j-simple, which writes to {@code System.err}) while it is open, still
 * passing it on, so that a test can wait for the line that explains a refusal.
 */
public final class LogCapture implements AutoCloseable {

    private final PrintStream original = System.err;
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

    private LogCapture() {
        OutputStream tee = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                original.write(bytes, offset, length);
                synchronized (captured) {
                    captured.write(bytes, offset, length);
                    captured.notifyAll();
                }
            }
        };
        System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
    }

    /** Starts capturing. */
    public static LogCapture start() {
        return new LogCapture();
    }

    /**
     * Waits for a logged line that contains every one of {@code parts}, and returns it.
     *
     * @throws AssertionError if none came within {@code timeout}; the message shows what was logged
     */
    public String await(Duration timeout, String... parts) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (captured) {
            while (true) {
                for (String line : captured.toString(StandardCharsets.UTF_8).split("\n")) {
                    if (Arrays.stream(parts).allMatch(line::contains)) {
                        return line;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no log line with " + Arrays.toString(parts) + " within " + timeout
                            + "; logged:\n" + captured.toString(StandardCharsets.UTF_8));
                }
                captured.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /** Everything captured so far. */
    public String text() {
        synchronized (captured) {
            return captured.toString(StandardCharsets.UTF_8);
        }
    }

    /** Stops capturing; forgets what was captured. */
    @Override
    public void close() {
        System.setErr(original);
    }
}
