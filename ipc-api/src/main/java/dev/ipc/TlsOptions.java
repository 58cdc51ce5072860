package dev.ipc;

import static dev.ipc.Option.Scope.CLIENT;
import static dev.ipc.Option.Scope.CONNECT;
import static dev.ipc.Option.Scope.LISTEN;
import static dev.ipc.Option.Scope.SERVER;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLContext;

/**
 * The options of {@code tls://} endpoints: where this side's certificate and private key and the trusted authorities
 * come from, and whether a server asks clients for a certificate. They are {@link ConnectionOptions} (and are taken by
 * {@link ServerOptions} and {@link ClientOptions}), for {@code tls:} endpoints only.
 *
 * <p>Keys and certificates come from a PKCS#12 keystore or from PEM files; passwords only from a file or an environment
 * variable ({@link Secret}), never from the endpoint string:
 *
 * <pre>
 *   tls://0.0.0.0:7000?keyStore=/etc/app/server.p12&amp;keyStorePasswordFile=/etc/app/p12.pass
 *       &amp;clientAuth=required&amp;trustCertificates=/etc/app/ca.pem
 *   tls://app.example:7000?trustCertificates=/etc/app/ca.pem
 *       &amp;certificate=/etc/app/client.pem&amp;privateKey=/etc/app/client.key
 *   (each on one line)
 * </pre>
 *
 * A server needs a key (keystore or PEM pair). A client without trust settings trusts what the JDK's default trust
 * store trusts. Only TLS 1.3 and 1.2 are spoken, and a client always checks that the server's certificate names the
 * host it connected to (or {@link #SERVER_NAME}). Settings that contradict each other (a keystore and a PEM pair, a
 * certificate without its key) are refused when the options are built.
 */
public final class TlsOptions {

    /** Whether a TLS server asks its clients for a certificate. */
    public enum ClientAuth {
        /** Clients are not asked for a certificate. */
        NONE,
        /** Clients are asked; one that has none is still served. */
        WANT,
        /** Clients without a certificate that the server trusts are refused (mutual TLS). */
        REQUIRED
    }

    /** A PKCS#12 keystore holding this side's private key and certificate chain. */
    public static final Option<Path> KEY_STORE = path("keyStore", "A PKCS#12 keystore with this side's key.");

    /** The keystore's password, from a file or an environment variable. */
    public static final Option<Secret> KEY_STORE_PASSWORD =
            password("keyStorePassword", "The keystore's password, from a file or a variable.");

    /** A PKCS#12 keystore of trusted certificates. */
    public static final Option<Path> TRUST_STORE = path("trustStore", "A PKCS#12 keystore of trusted certificates.");

    /** The trust store's password, if it has one. */
    public static final Option<Secret> TRUST_STORE_PASSWORD =
            password("trustStorePassword", "The trust store's password, if it has one.");

    /** A PEM file with this side's certificate chain, leaf first. */
    public static final Option<Path> CERTIFICATE =
            path("certificate", "A PEM file with this side's certificate chain, leaf first.");

    /** A PEM file with the certificate's unencrypted PKCS#8 private key. */
    public static final Option<Path> PRIVATE_KEY =
            path("privateKey", "A PEM file with the certificate's unencrypted PKCS#8 key.");

    /** A PEM file of trusted (CA) certificates. */
    public static final Option<Path> TRUST_CERTIFICATES =
            path("trustCertificates", "A PEM file of trusted (CA) certificates.");

    /** Whether a server asks clients for certificates: {@code none}, {@code want} or {@code required}. */
    public static final Option<ClientAuth> CLIENT_AUTH = Option.choice(
                    "clientAuth", ClientAuth.class, ClientAuth.NONE, "Whether a server asks clients for a certificate.")
            .scopes(LISTEN, SERVER)
            .schemes(Endpoint.TLS)
            .build();

    /** The name a client expects in the server's certificate, if not the endpoint's host. */
    public static final Option<String> SERVER_NAME = Option.of(
                    "serverName", String.class, null, "The name a client expects in the server's certificate.")
            .scopes(CONNECT, CLIENT)
            .schemes(Endpoint.TLS)
            .parser(text -> text)
            .check(name -> name.isEmpty() ? "serverName must not be empty" : null)
            .build();

    /**
     * A ready-made context that replaces the key and trust settings, for keys kept elsewhere (an HSM, a vault); set
     * only in code.
     */
    public static final Option<SSLContext> CONTEXT = Option.of(
                    "sslContext", SSLContext.class, null, "A ready-made SSLContext, set in code only.")
            .schemes(Endpoint.TLS)
            .keys()
            .build();

    static final List<Option<?>> TABLE = List.of(
            KEY_STORE,
            KEY_STORE_PASSWORD,
            TRUST_STORE,
            TRUST_STORE_PASSWORD,
            CERTIFICATE,
            PRIVATE_KEY,
            TRUST_CERTIFICATES,
            CLIENT_AUTH,
            SERVER_NAME,
            CONTEXT);

    private TlsOptions() {}

    private static Option<Path> path(String name, String description) {
        return Option.of(name, Path.class, null, description)
                .schemes(Endpoint.TLS)
                .parser(text -> Path.of(text))
                .build();
    }

    private static Option<Secret> password(String name, String description) {
        return Option.of(name, Secret.class, null, description)
                .schemes(Endpoint.TLS)
                .keys(name + "File", name + "Env")
                .parser((key, value, current) ->
                        key.endsWith("File") ? Secret.fromFile(Path.of(value)) : Secret.fromEnv(value))
                .build();
    }

    /** Where the TLS settings among those {@code set} contradict each other, naming them; null where they don't. */
    static String contradiction(Set<Option<?>> set) {
        if (set.contains(KEY_STORE) && (set.contains(CERTIFICATE) || set.contains(PRIVATE_KEY))) {
            return "give the key either as keyStore or as certificate and privateKey, not both";
        }
        if (set.contains(CERTIFICATE) != set.contains(PRIVATE_KEY)) {
            return "certificate and privateKey go together: "
                    + (set.contains(CERTIFICATE)
                            ? "certificate is set but privateKey is not"
                            : "privateKey is set but certificate is not");
        }
        if (set.contains(TRUST_STORE) && set.contains(TRUST_CERTIFICATES)) {
            return "give trust either as trustStore or as trustCertificates, not both";
        }
        if (set.contains(KEY_STORE_PASSWORD) && !set.contains(KEY_STORE)) {
            return "keyStorePassword is set but keyStore is not";
        }
        if (set.contains(TRUST_STORE_PASSWORD) && !set.contains(TRUST_STORE)) {
            return "trustStorePassword is set but trustStore is not";
        }
        return null;
    }
}
