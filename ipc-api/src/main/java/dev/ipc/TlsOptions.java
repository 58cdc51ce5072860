package dev.ipc;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLContext;

/**
 * Keys and trust for {@code tls://} endpoints: where the certificate, its private key and the trusted authorities come
 * from, and whether the server asks clients for a certificate.
 *
 * <p>Immutable. Keys and certificates come from a PKCS#12 keystore or from PEM files; passwords only from a file or an
 * environment variable ({@link Secret}), never from the endpoint string. The same settings can be written in the
 * endpoint's query:
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
 * host it connected to (or {@link #serverName()}).
 */
public final class TlsOptions {

    /** Whether a TLS server asks its clients for a certificate. */
    public enum ClientAuth {
        /** Clients are not asked for a certificate. */
        NONE,
        /** Clients are asked; one that has none is still served. */
        WANT,
        /** Clients without a certificate that the server trusts are refused (mutual TLS). */
        REQUIRED;

        /** The name used in endpoint queries: {@code none}, {@code want} or {@code required}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final TlsOptions NONE = new Builder().build();

    private final Path keyStore;
    private final Secret keyStorePassword;
    private final Path trustStore;
    private final Secret trustStorePassword;
    private final Path certificate;
    private final Path privateKey;
    private final Path trustCertificates;
    private final ClientAuth clientAuth;
    private final String serverName;
    private final SSLContext context;

    private TlsOptions(Builder builder) {
        this.keyStore = builder.keyStore;
        this.keyStorePassword = builder.keyStorePassword;
        this.trustStore = builder.trustStore;
        this.trustStorePassword = builder.trustStorePassword;
        this.certificate = builder.certificate;
        this.privateKey = builder.privateKey;
        this.trustCertificates = builder.trustCertificates;
        this.clientAuth = builder.clientAuth;
        this.serverName = builder.serverName;
        this.context = builder.context;
    }

    /** No keys, the JDK's default trust, no client certificates asked for. */
    public static TlsOptions none() {
        return NONE;
    }

    /** A builder with nothing set. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from these settings. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** A PKCS#12 keystore holding this side's private key and certificate chain. Query key {@code keyStore}. */
    public Optional<Path> keyStore() {
        return Optional.ofNullable(keyStore);
    }

    /** The keystore's password. Query keys {@code keyStorePasswordFile}, {@code keyStorePasswordEnv}. */
    public Optional<Secret> keyStorePassword() {
        return Optional.ofNullable(keyStorePassword);
    }

    /** A PKCS#12 keystore of trusted certificates. Query key {@code trustStore}. */
    public Optional<Path> trustStore() {
        return Optional.ofNullable(trustStore);
    }

    /**
     * The trust store's password, if it has one. Query keys {@code trustStorePasswordFile},
     * {@code trustStorePasswordEnv}.
     */
    public Optional<Secret> trustStorePassword() {
        return Optional.ofNullable(trustStorePassword);
    }

    /** A PEM file with this side's certificate chain, leaf first. Query key {@code certificate}. */
    public Optional<Path> certificate() {
        return Optional.ofNullable(certificate);
    }

    /** A PEM file with the certificate's unencrypted PKCS#8 private key. Query key {@code privateKey}. */
    public Optional<Path> privateKey() {
        return Optional.ofNullable(privateKey);
    }

    /** A PEM file of trusted (CA) certificates. Query key {@code trustCertificates}. */
    public Optional<Path> trustCertificates() {
        return Optional.ofNullable(trustCertificates);
    }

    /** Whether a server asks clients for certificates. Query key {@code clientAuth}: none, want or required. */
    public ClientAuth clientAuth() {
        return clientAuth;
    }

    /**
     * The name a client expects in the server's certificate, if not the endpoint's host. Query key {@code serverName}.
     */
    public Optional<String> serverName() {
        return Optional.ofNullable(serverName);
    }

    /** A ready-made context that replaces the key and trust settings; for keys kept elsewhere (an HSM, a vault). */
    public Optional<SSLContext> context() {
        return Optional.ofNullable(context);
    }

    /** Whether this side has a key and certificate to present. */
    public boolean hasKey() {
        return keyStore != null || certificate != null || context != null;
    }

    /** Applies one query parameter; false if {@code key} is not a TLS setting. */
    static boolean apply(Builder builder, String key, String value) {
        switch (key) {
            case "keyStore":
                builder.keyStore(Path.of(value));
                return true;
            case "keyStorePasswordFile":
                builder.keyStorePassword(Secret.fromFile(Path.of(value)));
                return true;
            case "keyStorePasswordEnv":
                builder.keyStorePassword(Secret.fromEnv(value));
                return true;
            case "trustStore":
                builder.trustStore(Path.of(value));
                return true;
            case "trustStorePasswordFile":
                builder.trustStorePassword(Secret.fromFile(Path.of(value)));
                return true;
            case "trustStorePasswordEnv":
                builder.trustStorePassword(Secret.fromEnv(value));
                return true;
            case "certificate":
                builder.certificate(Path.of(value));
                return true;
            case "privateKey":
                builder.privateKey(Path.of(value));
                return true;
            case "trustCertificates":
                builder.trustCertificates(Path.of(value));
                return true;
            case "clientAuth":
                for (ClientAuth choice : ClientAuth.values()) {
                    if (choice.configName().equals(value)) {
                        builder.clientAuth(choice);
                        return true;
                    }
                }
                throw new IllegalArgumentException("clientAuth must be none, want or required, was '" + value + "'");
            case "serverName":
                builder.serverName(value);
                return true;
            default:
                return false;
        }
    }

    /** {@code current} with one query parameter applied, not yet checked (see {@link #contradiction()}). */
    static TlsOptions apply(TlsOptions current, String key, String value) {
        Builder builder = current.toBuilder();
        if (!apply(builder, key, value)) {
            throw new IllegalArgumentException("unknown TLS option '" + key + "'");
        }
        return builder.buildUnchecked();
    }

    /** Where these settings contradict each other, naming the fields; null where they don't. */
    String contradiction() {
        return toBuilder().contradiction();
    }

    /** The query keys {@link #apply} knows. */
    static final String KEYS = "keyStore, keyStorePasswordFile, keyStorePasswordEnv, trustStore, "
            + "trustStorePasswordFile, trustStorePasswordEnv, certificate, privateKey, trustCertificates, clientAuth, "
            + "serverName";

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof TlsOptions)) {
            return false;
        }
        TlsOptions that = (TlsOptions) other;
        return Objects.equals(keyStore, that.keyStore)
                && Objects.equals(keyStorePassword, that.keyStorePassword)
                && Objects.equals(trustStore, that.trustStore)
                && Objects.equals(trustStorePassword, that.trustStorePassword)
                && Objects.equals(certificate, that.certificate)
                && Objects.equals(privateKey, that.privateKey)
                && Objects.equals(trustCertificates, that.trustCertificates)
                && clientAuth == that.clientAuth
                && Objects.equals(serverName, that.serverName)
                && Objects.equals(context, that.context);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                keyStore,
                keyStorePassword,
                trustStore,
                trustStorePassword,
                certificate,
                privateKey,
                trustCertificates,
                clientAuth,
                serverName,
                context);
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder("TlsOptions{clientAuth=").append(clientAuth.configName());
        Object[][] parts = {
            {"keyStore", keyStore},
            {"keyStorePassword", keyStorePassword},
            {"trustStore", trustStore},
            {"trustStorePassword", trustStorePassword},
            {"certificate", certificate},
            {"privateKey", privateKey},
            {"trustCertificates", trustCertificates},
            {"serverName", serverName},
            {"context", context}
        };
        for (Object[] part : parts) {
            if (part[1] != null) {
                out.append(", ").append(part[0]).append('=').append(part[1]);
            }
        }
        return out.append('}').toString();
    }

    /** Builds {@link TlsOptions}; not thread-safe. */
    public static final class Builder {
        private Path keyStore;
        private Secret keyStorePassword;
        private Path trustStore;
        private Secret trustStorePassword;
        private Path certificate;
        private Path privateKey;
        private Path trustCertificates;
        private ClientAuth clientAuth = ClientAuth.NONE;
        private String serverName;
        private SSLContext context;

        private Builder() {}

        private Builder(TlsOptions options) {
            this.keyStore = options.keyStore;
            this.keyStorePassword = options.keyStorePassword;
            this.trustStore = options.trustStore;
            this.trustStorePassword = options.trustStorePassword;
            this.certificate = options.certificate;
            this.privateKey = options.privateKey;
            this.trustCertificates = options.trustCertificates;
            this.clientAuth = options.clientAuth;
            this.serverName = options.serverName;
            this.context = options.context;
        }

        /** See {@link TlsOptions#keyStore()}; null for none. */
        public Builder keyStore(Path file) {
            this.keyStore = file;
            return this;
        }

        /** See {@link TlsOptions#keyStorePassword()}; null for none. */
        public Builder keyStorePassword(Secret password) {
            this.keyStorePassword = password;
            return this;
        }

        /** See {@link TlsOptions#trustStore()}; null for none. */
        public Builder trustStore(Path file) {
            this.trustStore = file;
            return this;
        }

        /** See {@link TlsOptions#trustStorePassword()}; null for none. */
        public Builder trustStorePassword(Secret password) {
            this.trustStorePassword = password;
            return this;
        }

        /** See {@link TlsOptions#certificate()}; null for none. */
        public Builder certificate(Path file) {
            this.certificate = file;
            return this;
        }

        /** See {@link TlsOptions#privateKey()}; null for none. */
        public Builder privateKey(Path file) {
            this.privateKey = file;
            return this;
        }

        /** See {@link TlsOptions#trustCertificates()}; null for none. */
        public Builder trustCertificates(Path file) {
            this.trustCertificates = file;
            return this;
        }

        /** See {@link TlsOptions#clientAuth()}. */
        public Builder clientAuth(ClientAuth clientAuth) {
            this.clientAuth = Objects.requireNonNull(clientAuth, "clientAuth");
            return this;
        }

        /** See {@link TlsOptions#serverName()}; null for the endpoint's host. */
        public Builder serverName(String name) {
            this.serverName = name;
            return this;
        }

        /** See {@link TlsOptions#context()}; null to build one from the other settings. */
        public Builder context(SSLContext context) {
            this.context = context;
            return this;
        }

        /**
         * The settings.
         *
         * @throws IllegalArgumentException if they contradict each other, naming the fields
         */
        public TlsOptions build() {
            String contradiction = contradiction();
            if (contradiction != null) {
                throw new IllegalArgumentException(contradiction);
            }
            return new TlsOptions(this);
        }

        /** The settings, contradicting each other or not: for a query read one key at a time, checked at its end. */
        TlsOptions buildUnchecked() {
            return new TlsOptions(this);
        }

        private String contradiction() {
            if (keyStore != null && (certificate != null || privateKey != null)) {
                return ("give the key either as keyStore or as certificate and privateKey, " + "not both");
            }
            if ((certificate == null) != (privateKey == null)) {
                return ("certificate and privateKey go together: "
                        + (certificate == null
                                ? "privateKey is set but certificate is not"
                                : "certificate is set but privateKey is not"));
            }
            if (trustStore != null && trustCertificates != null) {
                return ("give trust either as trustStore or as trustCertificates, not both");
            }
            if (keyStorePassword != null && keyStore == null) {
                return ("keyStorePassword is set but keyStore is not");
            }
            if (trustStorePassword != null && trustStore == null) {
                return ("trustStorePassword is set but trustStore is not");
            }
            if (serverName != null && serverName.isEmpty()) {
                return ("serverName must not be empty");
            }
            return null;
        }
    }
}
