package dev.ipc.cli;

import dev.ipc.AuthenticationException;
import dev.ipc.ClientOptions;
import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.DatagramOptions;
import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.ErrorCode;
import dev.ipc.Ipc;
import dev.ipc.IpcClient;
import dev.ipc.PeerCredentials;
import dev.ipc.RemoteException;
import dev.ipc.UnexpectedServerException;
import dev.ipc.internal.UnixPaths;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ipc doctor}: explains in plain words why a connection to an endpoint fails, or that it works and who listens.
 */
@Command(
        name = "doctor",
        mixinStandardHelpOptions = true,
        description = {
            "Checks ENDPOINT step by step and says what is wrong in plain words: no such file, not a "
                    + "socket, path too long, permission denied for this user, a stale file with nobody listening, the "
                    + "port closed, a TLS or shared-secret mismatch; or that a listener is alive, and who it is where "
                    + "the OS tells.",
            "Give the endpoint as the client would, query included (trust, certificates, secret).",
            "For a datagram endpoint (udp://, unixgram:) it checks what can be checked without sending anything: "
                    + "the socket file and whether a socket is bound there; UDP has no connection to test.",
            "Exit code 0 when a client could talk to it, 1 when not."
        })
final class Doctor implements Callable<Integer> {

    @Parameters(paramLabel = "ENDPOINT", description = "the endpoint a client would connect to")
    String endpoint;

    @Option(names = "--timeout", paramLabel = "DURATION", description = "how long each step may take (default: 3s)")
    String timeout = "3s";

    private int problems;

    private void ok(String text) {
        System.out.println("ok       " + text);
    }

    private void note(String text) {
        System.out.println("note     " + text);
    }

    private void problem(String text) {
        problems++;
        System.out.println("PROBLEM  " + text);
    }

    @Override
    public Integer call() {
        Endpoint target;
        try {
            target = Endpoint.parse(endpoint);
        } catch (IllegalArgumentException e) {
            problem(e.getMessage());
            return verdict(null);
        }
        if (target.isDatagram()) {
            checkDatagrams(target);
            return verdict(target);
        }
        ClientOptions options;
        try {
            // What a client reads of the endpoint's query, over this command's timeouts.
            options = ClientOptions.builder()
                    .set(ConnectionOptions.CONNECT_TIMEOUT, Durations.parse(timeout))
                    .set(ConnectionOptions.HANDSHAKE_TIMEOUT, Durations.parse(timeout))
                    .set(ClientOptions.CALL_TIMEOUT, Durations.parse(timeout))
                    .set(ClientOptions.RECONNECT_TIMEOUT, Duration.ZERO)
                    .query(target)
                    .build();
        } catch (IllegalArgumentException e) {
            problem(e.getMessage());
            return verdict(target);
        }
        ok("endpoint " + target.withoutParameters() + " is well formed");
        if (target.isSystemd()) {
            note("systemd: endpoints name a socket systemd hands to a server it starts; check the unit with "
                    + "systemctl status, and ask the client's endpoint instead");
            return verdict(target);
        }
        if (target.path().isPresent() && !checkSocketFile(target.path().get())) {
            return verdict(target);
        }
        if (target.isInet() && !checkPort(target, options)) {
            return verdict(target);
        }
        checkProtocol(target, options);
        return verdict(target);
    }

    private int verdict(Endpoint target) {
        if (problems == 0) {
            System.out.println("verdict  a client can talk to " + target.withoutParameters());
            return Main.OK;
        }
        System.out.println("verdict  a client can't talk to " + (target == null ? endpoint : target.withoutParameters())
                + ": see the PROBLEM line" + (problems > 1 ? "s" : ""));
        return Main.FAILURE;
    }

    /**
     * A datagram endpoint: its options, its socket file, and whether a socket is bound there; nothing is sent, since a
     * datagram would reach the application behind it.
     */
    private void checkDatagrams(Endpoint target) {
        try {
            DatagramOptions.builder().query(target).build();
        } catch (IllegalArgumentException e) {
            problem(e.getMessage());
            return;
        }
        ok("endpoint " + target.withoutParameters() + " is well formed: datagrams, for Ipc.connectDatagram");
        note("datagrams have no TLS and no shared secret; "
                + (target.isInet()
                        ? "anyone who can reach the port may send to it"
                        : target.isAbstract()
                                ? "in the abstract namespace anyone on this host may send to it"
                                : "the socket file's mode and directory decide who may send"));
        if (target.isInet()) {
            try {
                InetAddress address = InetAddress.getAllByName(target.host())[0];
                ok(target.host() + " resolves to " + address.getHostAddress());
            } catch (UnknownHostException e) {
                problem("cannot resolve the host " + target.host() + ": " + e.getMessage());
                return;
            }
            note("UDP has no connection, so whether anything is bound at port " + target.port() + " shows only when a "
                    + "datagram is answered: try ipc ping " + target.withoutParameters() + " against a datagram echo "
                    + "(ipc serve)");
            return;
        }
        if (target.path().isPresent() && !checkSocketFile(target.path().get())) {
            return;
        }
        try (DatagramSocket socket = Ipc.connectDatagram(target)) {
            ok("a socket is bound at " + socket.remoteEndpoint().orElseThrow()
                    + " (a connect to it succeeded; nothing was sent)");
        } catch (ConnectException e) {
            if (target.path().isPresent()) {
                problem("stale socket file: nobody is bound at " + target.path().get() + " (connection refused): a "
                        + "process that stopped without cleaning up left it; the next bind reclaims it");
            } else {
                problem(e.getMessage());
            }
        } catch (AccessDeniedException e) {
            problem("permission denied: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            problem("cannot connect: " + Main.describe(e));
        }
    }

    /** The file-system side of a socket path; false when connecting is pointless. */
    private boolean checkSocketFile(Path path) {
        String tooLong = UnixPaths.tooLong(path.toAbsolutePath());
        if (tooLong != null) {
            problem("path too long: " + tooLong + ": use a shorter directory, such as $XDG_RUNTIME_DIR");
            return false;
        }
        ok("the path is " + UnixPaths.byteLength(path.toAbsolutePath()) + " bytes, within the limit of "
                + UnixPaths.MAX_PATH_BYTES);
        Path directory = path.toAbsolutePath().getParent();
        if (directory != null && !Files.isDirectory(directory)) {
            problem("no such directory: " + directory + " does not exist, so nothing listens at " + path
                    + " (is the server running, and is this its path?)");
            return false;
        }
        if (directory != null && !Files.isExecutable(directory)) {
            problem("permission denied: this user (" + whoAmI() + ") may not enter " + directory + " ("
                    + describe(directory) + ")");
            return false;
        }
        String what = UnixPaths.whatIsAt(path);
        if (what == null) {
            problem("no such file: nothing at " + path + ": the server is not running, or listens elsewhere");
            return false;
        }
        if (what.equals("a symbolic link")) {
            try {
                what = UnixPaths.whatIsAt(path.toRealPath()); // a client connects through the link
            } catch (IOException e) {
                problem("cannot read " + path + ": " + e.getMessage());
                return false;
            }
        }
        if (!"a socket file".equals(what)) {
            problem("not a socket: " + path + " is " + what + " (" + describe(path)
                    + "); a server would refuse to replace it");
            return false;
        }
        ok(path + " is a socket (" + describe(path) + ")");
        noteIfAnotherUsers("the socket file", UnixPaths.ownerUid(path));
        if (!Files.isWritable(path)) {
            problem("permission denied: this user (" + whoAmI() + ") may not connect or send to " + path + " ("
                    + describe(path) + "); that needs write permission on the socket file: run as the "
                    + "server's user, or ask for a mode or group that includes this user");
            return false;
        }
        return true;
    }

    /** The TCP side: the name, and whether anything listens; false when going on is pointless. */
    private boolean checkPort(Endpoint target, ClientOptions options) {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(target.host());
        } catch (UnknownHostException e) {
            problem("cannot resolve the host " + target.host() + ": " + e.getMessage());
            return false;
        }
        ok(target.host() + " resolves to " + addresses[0].getHostAddress());
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(addresses[0], target.port()), (int)
                    options.get(ConnectionOptions.CONNECT_TIMEOUT).toMillis());
            ok("port " + target.port() + " on " + addresses[0].getHostAddress() + " accepts connections");
            return true;
        } catch (ConnectException e) {
            problem("port closed: nothing listens on " + addresses[0].getHostAddress() + ":" + target.port()
                    + " (connection refused)");
        } catch (SocketTimeoutException e) {
            problem("no answer from " + addresses[0].getHostAddress() + ":" + target.port() + " within "
                    + options.get(ConnectionOptions.CONNECT_TIMEOUT)
                    + ": a firewall drops the packets, or the host is down");
        } catch (IOException e) {
            problem("cannot connect to " + addresses[0].getHostAddress() + ":" + target.port() + ": " + e.getMessage());
        }
        return false;
    }

    /** Connects as a client would, and says who answered and how. */
    private void checkProtocol(Endpoint target, ClientOptions options) {
        Endpoint plain = target.withoutParameters();
        try (Connection connection = connectToSeeWho(target, options)) {
            PeerCredentials peer = connection.peer();
            ok("connected: a listener is alive at " + plain + describeListener(peer));
            noteIfAnotherUsers("the listener", peer.uid());
        } catch (UnexpectedServerException e) {
            problem("unexpected server: " + e.getMessage());
            return;
        } catch (AuthenticationException e) {
            problem("shared secret: " + e.getMessage());
            return;
        } catch (SSLException e) {
            problem("TLS: " + e.getMessage());
            return;
        } catch (ConnectException e) {
            if (target.path().isPresent()) {
                problem("stale socket file: nobody listens on " + target.path().get() + " (connection refused): a "
                        + "server that stopped without cleaning up left it; the next server start reclaims it");
            } else {
                problem(e.getMessage());
            }
            return;
        } catch (AccessDeniedException e) {
            problem("permission denied: " + e.getMessage());
            return;
        } catch (IOException | RuntimeException e) {
            problem("cannot connect: " + Main.describe(e));
            return;
        }
        try (IpcClient client = IpcClient.connect(target, options)) {
            client.call(new byte[0]);
            ok("it speaks the ipc protocol (version 1) and answered a request");
        } catch (RemoteException e) {
            if (e.code() == ErrorCode.UNAUTHORIZED) {
                problem("refused: " + e.getMessage());
            } else if (e.code() == ErrorCode.PROTOCOL_ERROR || e.code() == ErrorCode.UNSUPPORTED_VERSION) {
                problem("it does not accept this client's hello: " + e.getMessage());
            } else {
                ok("it speaks the ipc protocol (version 1); a request got " + e.code() + ": " + e.getMessage());
            }
        } catch (AuthenticationException e) {
            problem("shared secret: " + e.getMessage());
        } catch (SSLException e) {
            problem("TLS: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            if (Endpoint.TCP.equals(target.scheme()) && speaksTls(target, options)) {
                return;
            }
            problem("the listener took the connection but did not answer the ipc hello (" + Main.describe(e) + "): "
                    + "it may speak another protocol, or its access policy may refuse this user (" + whoAmI() + ")");
        }
    }

    /** Connects; on a Unix socket through junixsocket where it works, since it tells the listener's pid too. */
    private static Connection connectToSeeWho(Endpoint target, ClientOptions options) throws IOException {
        // Ipc.connect reads the endpoint's query itself, over these.
        ConnectionOptions connection = ConnectionOptions.builder()
                .set(ConnectionOptions.CONNECT_TIMEOUT, options.get(ConnectionOptions.CONNECT_TIMEOUT))
                .set(ConnectionOptions.HANDSHAKE_TIMEOUT, options.get(ConnectionOptions.HANDSHAKE_TIMEOUT))
                .build();
        if (target.isUnix() && options.get(ConnectionOptions.BACKEND) == ConnectionOptions.UnixBackend.AUTO) {
            try {
                return Ipc.connect(
                        target,
                        connection.toBuilder()
                                .set(ConnectionOptions.BACKEND, ConnectionOptions.UnixBackend.JUNIXSOCKET)
                                .build());
            } catch (IllegalStateException e) {
                // junixsocket is not available here: the JDK's channels tell names, not the pid
            }
        }
        return Ipc.connect(target, connection);
    }

    /** Whether a tcp:// port answers a TLS handshake; says so, with the certificate it shows. */
    private boolean speaksTls(Endpoint target, ClientOptions options) {
        X509Certificate[] seen = new X509Certificate[1];
        TrustManager recordOnly = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                seen[0] = chain[0]; // only looked at, never trusted with data
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(target.host(), target.port()), (int)
                    options.get(ConnectionOptions.CONNECT_TIMEOUT).toMillis());
            raw.setSoTimeout(
                    (int) options.get(ConnectionOptions.HANDSHAKE_TIMEOUT).toMillis());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {recordOnly}, null);
            try (SSLSocket socket =
                    (SSLSocket) context.getSocketFactory().createSocket(raw, target.host(), target.port(), false)) {
                socket.startHandshake();
            }
        } catch (IOException | GeneralSecurityException e) {
            if (seen[0] == null) {
                return false;
            }
        }
        if (seen[0] == null) {
            return false;
        }
        problem("the port speaks TLS (its certificate: "
                + seen[0].getSubjectX500Principal().getName() + ", issued by "
                + seen[0].getIssuerX500Principal().getName() + "): connect with tls://" + target.host() + ":"
                + target.port() + " and trust that issuer (trustCertificates=...)");
        return true;
    }

    /**
     * Flags {@code what} when it belongs to a user who is neither this one nor root: a daemon's own service user is
     * common, but so is another local user's impostor at a path a client trusts.
     */
    private void noteIfAnotherUsers(String what, OptionalLong uid) {
        OptionalLong own = UnixPaths.ownUid();
        if (uid.isPresent() && own.isPresent() && uid.getAsLong() != own.getAsLong() && uid.getAsLong() != 0) {
            note(what + " belongs to uid " + uid.getAsLong() + ", neither this user (uid " + own.getAsLong()
                    + ") nor root: make sure that is the server you mean, and not another user's");
        }
    }

    private static String describeListener(PeerCredentials peer) {
        StringBuilder out = new StringBuilder();
        peer.pid().ifPresent(pid -> out.append(", pid ").append(pid).append(processName(pid)));
        if (peer.uid().isPresent()) {
            out.append(", uid ").append(peer.uid().getAsLong());
        }
        peer.user().ifPresent(user -> out.append(", user ").append(user));
        peer.group().ifPresent(group -> out.append(", group ").append(group));
        peer.principal().ifPresent(subject -> out.append(", certificate ").append(subject));
        return out.length() == 0 ? " (the transport tells nothing of who it is)" : " (" + out.substring(2) + ")";
    }

    private static String processName(long pid) {
        return ProcessHandle.of(pid)
                .flatMap(handle -> handle.info().command())
                .map(command -> " " + Path.of(command).getFileName())
                .orElse("");
    }

    private static String describe(Path path) {
        try {
            PosixFileAttributes attributes =
                    Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            int mode = 0;
            for (PosixFilePermission permission : attributes.permissions()) {
                mode |= 1 << (8 - permission.ordinal());
            }
            return "mode 0" + Integer.toOctalString(mode) + " "
                    + PosixFilePermissions.toString(attributes.permissions()) + ", owner "
                    + attributes.owner().getName() + ", group "
                    + attributes.group().getName();
        } catch (IOException | UnsupportedOperationException e) {
            return "attributes unreadable: " + e.getMessage();
        }
    }

    private static String whoAmI() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return "uid " + uid + ", " + System.getProperty("user.name");
        } catch (IOException | RuntimeException e) {
            return System.getProperty("user.name");
        }
    }
}
