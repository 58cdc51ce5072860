package dev.ipc.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ipc.AccessPolicy;
import dev.ipc.ApplicationException;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.IpcServer;
import dev.ipc.ReplyStream;
import dev.ipc.Request;
import dev.ipc.ServerOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The wire protocol as {@code docs/PROTOCOL.md} writes it, checked from outside the JVM: {@code ipc_conformance.py}
 * (Python's standard library alone) speaks bytes to a real {@link IpcServer} on the transport under test. Each rule of
 * the document names its check; each check is one dynamic test here, run against a server configured as the check needs
 * (small limits, short timeouts, a secret, an access policy that refuses everyone).
 */
public abstract class ConformanceContract {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final Pattern NAMED_CHECKS = Pattern.compile("\\(checks? ([^)]*)\\)");
    private static final Pattern CHECK_NAME = Pattern.compile("`([a-z_0-9]+)`");

    /** A server configuration and the checks that run against it. */
    private record Profile(
            String name, Map<String, String> query, Consumer<ServerOptions.Builder> code, List<String> checks) {}

    private static final List<Profile> PROFILES = List.of(
            new Profile(
                    "limits",
                    query("maxFrameSize", "4096", "maxInFlight", "8", "frameTimeout", "1s", "handshakeTimeout", "2s"),
                    options -> {},
                    List.of(
                            "frame_split_at_every_offset",
                            "frames_coalesced",
                            "payload_limit_is_exact",
                            "length_with_top_bit_set",
                            "malformed_frames",
                            "replies_before_the_error",
                            "hello_and_welcome",
                            "hello_versions",
                            "hello_malformed",
                            "hello_with_extra_bytes",
                            "requests_before_the_welcome",
                            "hello_timeout",
                            "pipelined_requests_answered_by_id",
                            "request_id_zero",
                            "duplicate_id_in_flight",
                            "in_flight_limit",
                            "in_flight_limit_v1",
                            "handler_failure",
                            "application_error",
                            "error_message_bound",
                            "half_close",
                            "frame_timeout",
                            "auth_without_secret",
                            "deadline_reaches_the_handler",
                            "deadline_passed",
                            "cancel",
                            "stream_with_credit",
                            "stream_needs_a_window",
                            "stream_cancelled",
                            "streams_answered_before_the_error",
                            "malformed_frames_v3")),
            new Profile("idle", query("idleTimeout", "1s"), options -> {}, List.of("idle_timeout")),
            new Profile("streams", query("maxStreamsPerConnection", "2"), options -> {}, List.of("stream_limit")),
            new Profile(
                    "memory",
                    query("maxFrameSize", "2097152", "maxBufferedBytes", "1048576"),
                    options -> {},
                    List.of("memory_budget")),
            new Profile(
                    "connections",
                    query("maxConnections", "2"),
                    options -> {},
                    List.of("too_many_connections", "idle_connections_give_way")),
            new Profile(
                    "handshakes",
                    query("maxHandshakes", "3"),
                    options -> {},
                    List.of("unfinished_connections_give_way")),
            new Profile(
                    "access",
                    query(),
                    options -> options.connection(ConnectionOptions.builder()
                            .set(ConnectionOptions.ACCESS, AccessPolicy.matching("nobody", false, peer -> false))
                            .build()),
                    List.of("access_refused")),
            new Profile(
                    "secret",
                    query("handshakeTimeout", "1s"),
                    options -> {},
                    List.of("auth_accepted", "auth_refusals", "auth_timeout")),
            new Profile(
                    "secret-handshakes",
                    query("maxHandshakes", "3"),
                    options -> {},
                    List.of("unfinished_connections_give_way")),
            new Profile("shutdown", query("maxInFlight", "2000"), options -> {}, List.of("shutdown")));

    private final TransportContract contract;

    protected ConformanceContract(TransportContract contract) {
        this.contract = contract;
    }

    private static Map<String, String> query(String... pairs) {
        Map<String, String> query = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            query.put(pairs[i], pairs[i + 1]);
        }
        return query;
    }

    @AfterEach
    void removeFiles() throws IOException {
        for (String name : List.of("ipc_client.py", "ipc_conformance.py", "conformance.secret")) {
            Files.deleteIfExists(contract.directory().resolve(name));
        }
    }

    @TestFactory
    Stream<DynamicTest> everyRuleOfTheProtocol() throws Exception {
        assumeTrue(Files.isExecutable(PYTHON), "python3 is not installed at " + PYTHON);
        Path script = scripts();
        List<DynamicTest> tests = new ArrayList<>();
        for (Profile profile : PROFILES) {
            Map<String, String> results = run(script, profile);
            for (String check : profile.checks()) {
                String result = results.getOrDefault(check, "FAIL no result (the script stopped early)");
                tests.add(DynamicTest.dynamicTest(check + " (" + profile.name() + ")", () -> {
                    assumeTrue(!result.startsWith("SKIP"), result);
                    if (!result.startsWith("PASS")) {
                        fail(check + " against " + contract.transportId() + ": " + result);
                    }
                }));
            }
        }
        return tests.stream();
    }

    /** Every check the document names is run here, and every check run here is named in the document. */
    @Test
    void everyRuleNamesACheckAndEveryCheckRuns() throws Exception {
        assumeTrue(Files.isExecutable(PYTHON), "python3 is not installed at " + PYTHON);
        Path document = protocolDocument();
        Set<String> named = new TreeSet<>();
        Matcher checks = NAMED_CHECKS.matcher(Files.readString(document));
        while (checks.find()) {
            Matcher names = CHECK_NAME.matcher(checks.group(1));
            while (names.find()) {
                named.add(names.group(1));
            }
        }
        Set<String> run = PROFILES.stream()
                .flatMap(profile -> profile.checks().stream())
                .collect(Collectors.toCollection(TreeSet::new));
        Process list = new ProcessBuilder(PYTHON.toString(), scripts().toString(), "--list").start();
        Set<String> defined;
        try {
            defined =
                    new TreeSet<>(Arrays.asList(new String(list.getInputStream().readAllBytes(), UTF_8)
                            .trim()
                            .split("\n")));
            assertTrue(list.waitFor(30, TimeUnit.SECONDS));
        } finally {
            JavaProcesses.reap(list);
        }
        assertEquals(defined, named, "the checks in ipc_conformance.py, and those " + document + " names");
        // Each rule with a MUST names its check, except a client's duties, which no server can be held to.
        for (String rule : Files.readString(document).split("\n(?=- |\n)")) {
            boolean clientsDuty = rule.contains("client MUST") || rule.startsWith("- A client");
            if (rule.contains("MUST") && !rule.contains("key words") && !clientsDuty) {
                assertTrue(rule.contains("(check"), "a rule of " + document + " that names no check:\n" + rule);
            }
        }
        assertEquals(defined, run, "the checks in ipc_conformance.py, and those this contract runs");
    }

    private static Path protocolDocument() {
        for (Path directory = Path.of("").toAbsolutePath(); directory != null; directory = directory.getParent()) {
            Path document = directory.resolve("docs/PROTOCOL.md");
            if (Files.isRegularFile(document)) {
                return document;
            }
        }
        throw new IllegalStateException(
                "no docs/PROTOCOL.md above " + Path.of("").toAbsolutePath());
    }

    /** The two scripts, copied beside each other into the test's directory; returns the conformance script. */
    private Path scripts() throws IOException {
        Path directory = contract.directory();
        for (String name : List.of("ipc_client.py", "ipc_conformance.py")) {
            Path target = directory.resolve(name);
            if (!Files.exists(target)) {
                try (InputStream source = ConformanceContract.class.getResourceAsStream("/" + name)) {
                    Files.copy(source, target);
                }
            }
        }
        return directory.resolve("ipc_conformance.py");
    }

    /** Starts a server for {@code profile}, runs its checks, closes the server; the result line of each check. */
    private Map<String, String> run(Path script, Profile profile) throws Exception {
        Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        Endpoint transport = contract.newEndpoint(contract.directory());
        Endpoint endpoint = transport.withoutParameters();
        for (Map.Entry<String, String> parameter : transport.parameters().entrySet()) {
            if (!(profile.name().equals("access") && parameter.getKey().equals("access"))) {
                endpoint = endpoint.withParameter(parameter.getKey(), parameter.getValue()); // the policy set in code
            }
        }
        for (Map.Entry<String, String> parameter : profile.query().entrySet()) {
            endpoint = endpoint.withParameter(parameter.getKey(), parameter.getValue());
        }
        if (profile.name().startsWith("secret")) {
            Path secret = contract.directory().resolve("conformance.secret");
            Files.writeString(secret, "a shared secret of more than sixteen bytes\n");
            Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
            endpoint = endpoint.withParameter("secretFile", secret.toString());
        }
        ServerOptions.Builder options = ServerOptions.builder();
        profile.code().accept(options);
        IpcServer server = IpcServer.builder(endpoint)
                .options(options.build())
                .requestHandler(request -> handle(request, runs))
                .build()
                .start();
        Map<String, String> results = new LinkedHashMap<>();
        CompletableFuture<Void> closed = null;
        String answered = null;
        List<String> checks = new ArrayList<>(
                List.of(PYTHON.toString(), script.toString(), server.endpoint().toString()));
        checks.addAll(profile.checks());
        Process process = new ProcessBuilder(checks).redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8));
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                if (line.equals("SHUTDOWN")) {
                    closed = CompletableFuture.runAsync(() -> {
                        try {
                            server.close();
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
                } else if (line.startsWith("INFO ")) {
                    System.out.println(contract.transportId() + " " + line.substring("INFO ".length()));
                } else if (line.startsWith("ANSWERED ")) {
                    answered = line.substring("ANSWERED ".length());
                } else if (line.matches("(PASS|FAIL|SKIP) [a-z_0-9]+.*")) {
                    String name = line.substring(5).split(":", 2)[0];
                    results.put(name, line);
                } else {
                    results.merge("output", line, (a, b) -> a + "\n" + b);
                }
            }
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the conformance script finished");
        } finally {
            JavaProcesses.reap(process);
            if (closed != null) {
                closed.get(60, TimeUnit.SECONDS);
            }
            server.close();
        }
        long held = heldAfterClose(server);
        if (held != 0) {
            // The budget's invariant: a release missed or made twice by any check of the profile fails them all.
            String why = " (and " + held + " bytes were still counted in maxBufferedBytes after the server closed)";
            results.replaceAll((name, line) -> line.startsWith("PASS") ? "FAIL " + name + why : line);
        }
        if (results.containsKey("output")) {
            // A traceback or stray output: attach it to every check of the profile that did not pass.
            results.replaceAll((name, line) -> line.startsWith("PASS") ? line : line + "\n" + results.get("output"));
        }
        if (answered != null) {
            String reported = answered;
            results.computeIfPresent("shutdown", (name, line) -> sameAsRun(runs, reported, line));
        }
        return results;
    }

    /** The bytes the closed server still counts in its memory budget, once its last sessions have finished. */
    static long heldAfterClose(IpcServer server) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        long held = server.stats().bufferedBytes();
        while (held != 0 && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(20); // session threads finish after close() returns
            held = server.stats().bufferedBytes();
        }
        return held;
    }

    /**
     * The shutdown check passes only if the handler ran each request at most once, and ran exactly those the client saw
     * answered.
     */
    private static String sameAsRun(Map<String, AtomicInteger> runs, String answered, String line) {
        if (!line.startsWith("PASS")) {
            return line;
        }
        for (Map.Entry<String, AtomicInteger> run : runs.entrySet()) {
            if (run.getValue().get() != 1) {
                return "FAIL shutdown: the handler ran " + run.getKey() + " " + run.getValue() + " times";
            }
        }
        Set<String> ran = runs.keySet().stream()
                .filter(payload -> payload.startsWith("sleep:2:s"))
                .map(payload -> payload.substring("sleep:2:s".length()))
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> seen = new TreeSet<>(Arrays.asList(answered.split(",")));
        if (!ran.equals(seen)) {
            Set<String> lost = new TreeSet<>(ran);
            lost.removeAll(seen);
            return "FAIL shutdown: the handler ran " + ran.size() + " requests, the client saw " + seen.size()
                    + " answered; ran but never answered: " + lost;
        }
        return line;
    }

    /**
     * Echoes, except "boom" (fails), "sleep:MS:TEXT" (answers TEXT after MS ms), "app:CODE:MESSAGE" (an application's
     * error), "deadline" (the milliseconds left until the deadline, or "none"), "hold:MS" (waits until cancelled, at
     * most MS ms), "stream:N:TEXT" (streams "TEXT 1" to "TEXT N") and "stream-forever" (streams until cancelled);
     * counts the runs of each "sleep:" payload.
     */
    private static byte[] handle(Request call, Map<String, AtomicInteger> runs) throws Exception {
        byte[] request = call.payload();
        String text = new String(request, UTF_8);
        if (text.equals("deadline")) {
            return call.timeLeft()
                    .map(left -> Long.toString(Math.max(1, left.toMillis())))
                    .orElse("none")
                    .getBytes(UTF_8);
        }
        if (text.startsWith("hold:")) {
            CountDownLatch cancelled = new CountDownLatch(1);
            call.onCancel(cancelled::countDown);
            return cancelled.await(Long.parseLong(text.substring(5)), TimeUnit.MILLISECONDS)
                    ? "cancelled".getBytes(UTF_8) // dropped: the server answers CANCELLED
                    : "not cancelled".getBytes(UTF_8);
        }
        if (text.startsWith("stream:")) {
            String[] parts = text.split(":", 3);
            ReplyStream stream = call.openStream();
            for (int i = 1; i <= Integer.parseInt(parts[1]); i++) {
                stream.send((parts[2] + " " + i).getBytes(UTF_8));
            }
            return null;
        }
        if (text.equals("stream-forever")) {
            ReplyStream stream = call.openStream();
            for (long i = 1; ; i++) {
                stream.send(("tick " + i).getBytes(UTF_8)); // ends by CancellationException
            }
        }
        if (text.startsWith("sleep:")) {
            runs.computeIfAbsent(text, key -> new AtomicInteger()).incrementAndGet();
            String[] parts = text.split(":", 3);
            Thread.sleep(Long.parseLong(parts[1]));
            return parts[2].getBytes(UTF_8);
        }
        if (text.equals("boom")) {
            throw new IllegalStateException("the handler failed on purpose");
        }
        if (text.startsWith("app:")) {
            String[] parts = text.split(":", 3);
            throw new ApplicationException(Integer.parseInt(parts[1]), parts[2]);
        }
        return request;
    }
}
