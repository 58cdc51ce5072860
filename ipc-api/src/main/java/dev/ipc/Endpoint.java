package dev.ipc;

import dev.ipc.internal.UnixPaths;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * An address to listen on or connect to, written as one string such as {@code unix:/run/app.sock}.
 *
 * <p>The grammar, in full:
 *
 * <pre>
 *   unix:/run/app/app.sock        a socket file, absolute path
 *   unix:app.sock                 a socket file relative to the working directory
 *   unix:@name                    a Linux abstract-namespace socket (no file)
 *   tcp://127.0.0.1:4477          TCP on an IPv4 address
 *   tcp://[::1]:4477              TCP on an IPv6 address
 *   tcp://localhost:0             TCP on a host name; port 0 picks a free port when listening
 *   tls://host:4477               TCP with TLS
 *   systemd:                      the first socket systemd passed to this process (socket activation)
 *   systemd:api                   the socket systemd passed under that name ({@code FileDescriptorName=})
 *   udp://127.0.0.1:5140          UDP datagrams; port 0 picks a free port when binding
 *   unixgram:/run/app/log.sock    Unix datagrams on a socket file (absolute or relative, as unix:)
 *   unixgram:@name                Unix datagrams in the Linux abstract namespace
 * </pre>
 *
 * The last three are datagram endpoints ({@link #isDatagram()}), for {@link Ipc#bindDatagram} and
 * {@link Ipc#connectDatagram}; the others are streams, for {@link Ipc#listen} and {@link Ipc#connect}.
 *
 * <p>Any form may end in a query that carries options, {@code unix:/run/app.sock?backend=jdk&readTimeout=5s} (see
 * {@link ConnectionOptions}). In a path or a query value, {@code %} followed by two hex digits stands for that byte of
 * the UTF-8 encoding, so a path that contains {@code ?} or {@code %} can be written too.
 *
 * <p>Endpoints are immutable values: {@link #equals(Object)} compares every part, and
 * {@code Endpoint.parse(s).toString()} gives {@code s} back for every string in canonical form (the forms above, with
 * percent escapes only where they are needed).
 */
public final class Endpoint {

    /** The scheme of socket-file and abstract-namespace endpoints. */
    public static final String UNIX = "unix";
    /** The scheme of plain TCP endpoints. */
    public static final String TCP = "tcp";
    /** The scheme of TCP endpoints secured with TLS. */
    public static final String TLS = "tls";
    /** The scheme of sockets inherited from systemd (or as {@link System#inheritedChannel()}). */
    public static final String SYSTEMD = "systemd";
    /** The scheme of UDP endpoints. */
    public static final String UDP = "udp";
    /** The scheme of Unix datagram endpoints, with a socket file or in the abstract namespace. */
    public static final String UNIXGRAM = "unixgram";

    private static final String EXAMPLES =
            "valid examples: unix:/run/app/app.sock, unix:@app, tcp://127.0.0.1:4477, tcp://[::1]:0, systemd:, "
                    + "udp://127.0.0.1:5140, unixgram:/run/app/log.sock";

    private final String scheme;
    private final String path; // unix/unixgram socket file, as written; null otherwise
    private final String name; // unix/unixgram abstract name, or systemd socket name; null otherwise
    private final String host; // tcp/tls/udp host without brackets; null otherwise
    private final int port; // tcp/tls/udp port; -1 otherwise
    private final Map<String, String> parameters;

    private Endpoint(String scheme, String path, String name, String host, int port, Map<String, String> parameters) {
        this.scheme = scheme;
        this.path = path;
        this.name = name;
        this.host = host;
        this.port = port;
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /**
     * Parses an endpoint string.
     *
     * @throws IllegalArgumentException if the string is not an endpoint; the message quotes it and gives a valid
     *     example
     */
    public static Endpoint parse(String text) {
        Objects.requireNonNull(text, "text");
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw invalid(text, "it has no scheme (unix:, tcp://, tls://, udp:// or unixgram:)");
        }
        String scheme = text.substring(0, colon);
        String rest = text.substring(colon + 1);
        int question = rest.indexOf('?');
        String body = question < 0 ? rest : rest.substring(0, question);
        Map<String, String> parameters = question < 0 ? Map.of() : parseQuery(text, rest.substring(question + 1));
        switch (scheme) {
            case UNIX:
            case UNIXGRAM:
                return parseUnix(text, scheme, body, parameters);
            case TCP:
            case TLS:
            case UDP:
                return parseInet(text, scheme, body, parameters);
            case SYSTEMD:
                return parseSystemd(text, body, parameters);
            default:
                throw invalid(text, "unknown scheme '" + scheme + "' (known: unix, tcp, tls, systemd, udp, unixgram)");
        }
    }

    /** A socket-file endpoint for {@code path}, absolute or relative to the working directory. */
    public static Endpoint unix(Path path) {
        Objects.requireNonNull(path, "path");
        String text = path.toString();
        if (text.isEmpty()) {
            throw new IllegalArgumentException("path must not be empty");
        }
        return unixPath(UNIX, text, Map.of(), null);
    }

    /** A Unix datagram endpoint on a socket file ({@code unixgram:PATH}), absolute or relative. */
    public static Endpoint unixgram(Path path) {
        Objects.requireNonNull(path, "path");
        String text = path.toString();
        if (text.isEmpty()) {
            throw new IllegalArgumentException("path must not be empty");
        }
        return unixPath(UNIXGRAM, text, Map.of(), null);
    }

    /** A Unix datagram endpoint in the Linux abstract namespace ({@code unixgram:@name}); no file is created for it. */
    public static Endpoint unixgramAbstract(String name) {
        return abstractEndpoint(UNIXGRAM, name);
    }

    /**
     * The conventional socket file for a daemon named {@code app}: {@code $XDG_RUNTIME_DIR/app/app.sock} where that
     * variable names a directory, else {@code app-USER/app.sock} under the temp directory. The listener creates the
     * directory, private to its user, if it is missing.
     *
     * @throws IllegalArgumentException if {@code app} is not a plain name (letters, digits, {@code . _ -})
     * @throws IllegalStateException if the path is over the platform's socket path limit
     */
    public static Endpoint runtime(String app) {
        Objects.requireNonNull(app, "app");
        if (!app.matches("[A-Za-z0-9_][A-Za-z0-9._-]*")) {
            throw new IllegalArgumentException("app name must be letters, digits, '.', '_' or '-', was '" + app + "'");
        }
        String runtimeDirectory = System.getenv("XDG_RUNTIME_DIR");
        Path directory = runtimeDirectory != null
                        && !runtimeDirectory.isEmpty()
                        && Path.of(runtimeDirectory).isAbsolute()
                        && Files.isDirectory(Path.of(runtimeDirectory))
                ? Path.of(runtimeDirectory, app)
                : Path.of(System.getProperty("java.io.tmpdir"), app + "-" + System.getProperty("user.name"));
        Path path = directory.resolve(app + ".sock");
        int bytes = UnixPaths.byteLength(path);
        if (bytes > UnixPaths.MAX_PATH_BYTES) {
            throw new IllegalStateException("the runtime socket path " + path + " is " + bytes
                    + " bytes long; the limit on this platform is " + UnixPaths.MAX_PATH_BYTES + " bytes");
        }
        return unix(path);
    }

    /** A systemd socket-activation endpoint: {@code systemd:} for the first socket, or {@code systemd:NAME}. */
    public static Endpoint systemd(String name) {
        if (name != null && !isSystemdName(name)) {
            throw new IllegalArgumentException(
                    "systemd socket names are letters, digits, '.', '_' or '-', was '" + name + "'");
        }
        return new Endpoint(SYSTEMD, null, name == null || name.isEmpty() ? null : name, null, -1, Map.of());
    }

    /** A Linux abstract-namespace endpoint ({@code unix:@name}); no file is created for it. */
    public static Endpoint unixAbstract(String name) {
        return abstractEndpoint(UNIX, name);
    }

    private static Endpoint abstractEndpoint(String scheme, String name) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("abstract socket name must not be empty");
        }
        return new Endpoint(scheme, null, name, null, -1, Map.of());
    }

    /**
     * A TCP endpoint.
     *
     * @param host an IPv4 or IPv6 literal (without brackets) or a host name
     * @param port 0 to 65535; 0 picks a free port when listening
     */
    public static Endpoint tcp(String host, int port) {
        return inet(TCP, host, port);
    }

    /** A TCP endpoint secured with TLS; see {@link #tcp(String, int)}. */
    public static Endpoint tls(String host, int port) {
        return inet(TLS, host, port);
    }

    /** A UDP endpoint; see {@link #tcp(String, int)}: port 0 picks a free port when binding. */
    public static Endpoint udp(String host, int port) {
        return inet(UDP, host, port);
    }

    private static Endpoint inet(String scheme, String host, int port) {
        Objects.requireNonNull(host, "host");
        String problem = hostProblem(host);
        if (problem != null) {
            throw new IllegalArgumentException("host " + problem + ", was '" + host + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be between 0 and 65535, was " + port);
        }
        return new Endpoint(scheme, null, null, host, port, Map.of());
    }

    /**
     * The scheme: {@value #UNIX}, {@value #TCP}, {@value #TLS}, {@value #SYSTEMD}, {@value #UDP} or {@value #UNIXGRAM}.
     */
    public String scheme() {
        return scheme;
    }

    /**
     * Whether this is a Unix domain socket endpoint, stream ({@code unix:}) or datagram ({@code unixgram:}), with a
     * file or in the abstract namespace.
     */
    public boolean isUnix() {
        return UNIX.equals(scheme) || UNIXGRAM.equals(scheme);
    }

    /** Whether this is a Linux abstract-namespace endpoint ({@code unix:@name} or {@code unixgram:@name}). */
    public boolean isAbstract() {
        return isUnix() && name != null;
    }

    /** Whether this is an IP endpoint with a host and a port: TCP, with or without TLS, or UDP. */
    public boolean isInet() {
        return host != null;
    }

    /**
     * Whether this endpoint carries datagrams ({@code udp://} or {@code unixgram:}), for {@link Ipc#bindDatagram} and
     * {@link Ipc#connectDatagram}, rather than a stream.
     */
    public boolean isDatagram() {
        return UDP.equals(scheme) || UNIXGRAM.equals(scheme);
    }

    /** The socket file's path as written (relative paths stay relative); empty unless a socket-file endpoint. */
    public Optional<Path> path() {
        return Optional.ofNullable(path).map(Path::of);
    }

    /** The abstract-namespace name, without the {@code @}; empty unless an abstract endpoint. */
    public Optional<String> abstractName() {
        return isUnix() ? Optional.ofNullable(name) : Optional.empty();
    }

    /** Whether this is a socket inherited from systemd ({@code systemd:} or {@code systemd:NAME}). */
    public boolean isSystemd() {
        return SYSTEMD.equals(scheme);
    }

    /** The systemd socket's name; empty for {@code systemd:} (the first socket) and other schemes. */
    public Optional<String> systemdName() {
        return isSystemd() ? Optional.ofNullable(name) : Optional.empty();
    }

    /**
     * The host of a TCP or UDP endpoint: an address literal (IPv6 without brackets) or a name.
     *
     * @throws IllegalStateException if this is not a TCP or UDP endpoint
     */
    public String host() {
        requireInet("host");
        return host;
    }

    /**
     * The port of a TCP or UDP endpoint.
     *
     * @throws IllegalStateException if this is not a TCP or UDP endpoint
     */
    public int port() {
        requireInet("port");
        return port;
    }

    /** This endpoint with another port; for a listener bound to port 0, to report the real one. */
    public Endpoint withPort(int newPort) {
        requireInet("withPort");
        Endpoint changed = inet(scheme, host, newPort);
        return new Endpoint(scheme, null, null, host, changed.port, parameters);
    }

    /** The query parameters, in the order written; unmodifiable, empty if there is no query. */
    public Map<String, String> parameters() {
        return parameters;
    }

    /** One query parameter. */
    public Optional<String> parameter(String key) {
        return Optional.ofNullable(parameters.get(Objects.requireNonNull(key, "key")));
    }

    /** This endpoint with one query parameter added or replaced (kept in its place if replaced). */
    public Endpoint withParameter(String key, String value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (key.isEmpty()) {
            throw new IllegalArgumentException("parameter name must not be empty");
        }
        Map<String, String> changed = new LinkedHashMap<>(parameters);
        changed.put(key, value);
        return new Endpoint(scheme, path, name, host, port, changed);
    }

    /** This endpoint without its query. */
    public Endpoint withoutParameters() {
        return parameters.isEmpty() ? this : new Endpoint(scheme, path, name, host, port, Map.of());
    }

    private void requireInet(String what) {
        if (host == null) {
            throw new IllegalStateException(what + " is defined for tcp, tls and udp endpoints only, not for " + this);
        }
    }

    @Override
    public boolean equals(Object other) {
        if (this == other) {
            return true;
        }
        if (!(other instanceof Endpoint)) {
            return false;
        }
        Endpoint that = (Endpoint) other;
        return scheme.equals(that.scheme)
                && port == that.port
                && Objects.equals(path, that.path)
                && Objects.equals(name, that.name)
                && Objects.equals(host, that.host)
                && parameters.equals(that.parameters);
    }

    @Override
    public int hashCode() {
        return Objects.hash(scheme, path, name, host, port, parameters);
    }

    /** The endpoint string; {@link #parse(String)} reads it back to an equal endpoint. */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder(scheme).append(':');
        if (path != null) {
            escape(path, "?", out);
        } else if (isSystemd()) {
            out.append(name == null ? "" : name);
        } else if (name != null) {
            out.append('@');
            escape(name, "?", out);
        } else {
            out.append("//");
            out.append(host.indexOf(':') >= 0 ? "[" + host + "]" : host);
            out.append(':').append(port);
        }
        char separator = '?';
        for (Map.Entry<String, String> parameter : parameters.entrySet()) {
            out.append(separator);
            escape(parameter.getKey(), "&=#", out);
            out.append('=');
            escape(parameter.getValue(), "&=#", out);
            separator = '&';
        }
        return out.toString();
    }

    private static Endpoint parseUnix(String text, String scheme, String body, Map<String, String> parameters) {
        if (body.startsWith("//")) {
            throw invalid(
                    text,
                    "a " + scheme + " endpoint takes a path, as in " + scheme + ":/run/app.sock, not " + scheme
                            + "://");
        }
        if (body.isEmpty()) {
            throw invalid(text, "the socket path is empty");
        }
        if (body.startsWith("@")) {
            String abstractName = unescape(text, body.substring(1));
            if (abstractName.isEmpty()) {
                throw invalid(text, "the abstract socket name after '@' is empty");
            }
            return new Endpoint(scheme, null, abstractName, null, -1, parameters);
        }
        return unixPath(scheme, unescape(text, body), parameters, text);
    }

    private static Endpoint parseSystemd(String text, String body, Map<String, String> parameters) {
        if (!body.isEmpty() && !isSystemdName(body)) {
            throw invalid(
                    text,
                    "a systemd socket name is letters, digits, '.', '_' or '-' (as in systemd:api), " + "was '" + body
                            + "'");
        }
        return new Endpoint(SYSTEMD, null, body.isEmpty() ? null : body, null, -1, parameters);
    }

    private static boolean isSystemdName(String name) {
        return name.matches("[A-Za-z0-9._-]+");
    }

    private static Endpoint unixPath(String scheme, String path, Map<String, String> parameters, String text) {
        if (path.indexOf('\0') >= 0) {
            throw text == null
                    ? new IllegalArgumentException("path must not contain a NUL character")
                    : invalid(text, "the socket path contains a NUL character");
        }
        if (path.startsWith("@")) {
            // '@' would read back as the abstract namespace; a relative file path starting with it is
            // written "./@name".
            path = "./" + path;
        }
        try {
            Path.of(path);
        } catch (InvalidPathException e) {
            throw text == null
                    ? new IllegalArgumentException("invalid path: " + e.getMessage(), e)
                    : invalid(text, "the socket path is invalid: " + e.getReason());
        }
        return new Endpoint(scheme, path, null, null, -1, parameters);
    }

    private static Endpoint parseInet(String text, String scheme, String body, Map<String, String> parameters) {
        if (!body.startsWith("//")) {
            throw invalid(text, scheme + " endpoints are written " + scheme + "://host:port");
        }
        String authority = body.substring(2);
        if (authority.indexOf('/') >= 0) {
            throw invalid(text, "a " + scheme + " endpoint has no path after host:port");
        }
        String hostText;
        String portText;
        if (authority.startsWith("[")) {
            int close = authority.indexOf(']');
            if (close < 0) {
                throw invalid(text, "the IPv6 address has no closing ']'");
            }
            hostText = authority.substring(1, close);
            if (hostText.indexOf(':') < 0) {
                throw invalid(text, "brackets are for IPv6 addresses only");
            }
            String after = authority.substring(close + 1);
            if (!after.startsWith(":")) {
                throw invalid(text, "the port is missing (add :PORT after the address; :0 picks a free port)");
            }
            portText = after.substring(1);
        } else {
            int lastColon = authority.lastIndexOf(':');
            if (lastColon < 0) {
                throw invalid(text, "the port is missing (add :PORT after the host; :0 picks a free port)");
            }
            hostText = authority.substring(0, lastColon);
            if (hostText.indexOf(':') >= 0) {
                throw invalid(text, "an IPv6 address must be written in brackets, as in tcp://[::1]:4477");
            }
            portText = authority.substring(lastColon + 1);
        }
        if (hostText.isEmpty()) {
            throw invalid(text, "the host is empty (use 127.0.0.1 for loopback or 0.0.0.0 for all addresses)");
        }
        String problem = hostProblem(hostText);
        if (problem != null) {
            throw invalid(text, "the host " + problem);
        }
        int port = parsePort(text, portText);
        return new Endpoint(scheme, null, null, hostText, port, parameters);
    }

    private static String hostProblem(String host) {
        if (host.isEmpty()) {
            return "must not be empty";
        }
        if (host.indexOf(':') >= 0) {
            for (int i = 0; i < host.length(); i++) {
                char c = host.charAt(i);
                boolean ok = Character.digit(c, 16) >= 0
                        || c == ':'
                        || c == '.'
                        || c == '%'
                        || (c >= 'a' && c <= 'z')
                        || (c >= 'A' && c <= 'Z')
                        || (c >= '0' && c <= '9');
                if (!ok) {
                    return "is not a valid IPv6 address";
                }
            }
            return null;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '-'
                    || c == '.'
                    || c == '_';
            if (!ok) {
                return "contains '" + c + "', which no host name or address does";
            }
        }
        return null;
    }

    private static int parsePort(String text, String portText) {
        if (portText.isEmpty()) {
            throw invalid(text, "the port is empty (:0 picks a free port)");
        }
        if (portText.length() > 5 || !portText.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw invalid(text, "the port '" + portText + "' is not a number from 0 to 65535");
        }
        int port = Integer.parseInt(portText);
        if (port > 65535) {
            throw invalid(text, "the port " + port + " is over 65535");
        }
        return port;
    }

    private static Map<String, String> parseQuery(String text, String query) {
        Map<String, String> parameters = new LinkedHashMap<>();
        if (query.isEmpty()) {
            throw invalid(text, "the query after '?' is empty");
        }
        for (String pair : query.split("&", -1)) {
            int equals = pair.indexOf('=');
            if (equals <= 0) {
                throw invalid(text, "the query part '" + pair + "' is not name=value");
            }
            String key = unescape(text, pair.substring(0, equals));
            String value = unescape(text, pair.substring(equals + 1));
            if (parameters.put(key, value) != null) {
                throw invalid(text, "the query names '" + key + "' twice");
            }
        }
        return parameters;
    }

    private static String unescape(String text, String part) {
        if (part.indexOf('%') < 0) {
            return part;
        }
        byte[] bytes = new byte[part.length() * 4];
        int length = 0;
        for (int i = 0; i < part.length(); ) {
            char c = part.charAt(i);
            if (c == '%') {
                int high = i + 1 < part.length() ? Character.digit(part.charAt(i + 1), 16) : -1;
                int low = i + 2 < part.length() ? Character.digit(part.charAt(i + 2), 16) : -1;
                if (high < 0 || low < 0) {
                    throw invalid(text, "'%' must be followed by two hex digits (write %25 for '%')");
                }
                bytes[length++] = (byte) (high << 4 | low);
                i += 3;
            } else {
                int end = i + (Character.isHighSurrogate(c) && i + 1 < part.length() ? 2 : 1);
                byte[] encoded = part.substring(i, end).getBytes(StandardCharsets.UTF_8);
                System.arraycopy(encoded, 0, bytes, length, encoded.length);
                length += encoded.length;
                i = end;
            }
        }
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }

    private static void escape(String part, String reserved, StringBuilder out) {
        for (int i = 0; i < part.length(); i++) {
            char c = part.charAt(i);
            if (c == '%' || reserved.indexOf(c) >= 0 || c < 0x20 || c == 0x7f) {
                out.append('%')
                        .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            } else {
                out.append(c);
            }
        }
    }

    private static IllegalArgumentException invalid(String text, String reason) {
        return new IllegalArgumentException("invalid endpoint '" + text + "': " + reason + "; " + EXAMPLES);
    }
}
