package dev.ipc.tcp;

import dev.ipc.ConnectionOptions;
import dev.ipc.Secret;
import dev.ipc.TlsOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * Builds an {@link SSLContext} from the {@link TlsOptions} settings: PKCS#12 keystores or PEM files, with errors that
 * name the file.
 */
final class TlsContexts {

    private TlsContexts() {}

    /**
     * The context for these settings.
     *
     * @throws IOException naming the file and the cause if a key, certificate or store can't be read
     */
    static SSLContext of(ConnectionOptions options) throws IOException {
        if (options.find(TlsOptions.CONTEXT).isPresent()) {
            return options.find(TlsOptions.CONTEXT).get();
        }
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers(options), trustManagers(options), null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** Whether the options give this side a key and certificate to present. */
    static boolean hasKey(ConnectionOptions options) {
        return options.isSet(TlsOptions.KEY_STORE)
                || options.isSet(TlsOptions.CERTIFICATE)
                || options.isSet(TlsOptions.CONTEXT);
    }

    private static KeyManager[] keyManagers(ConnectionOptions options) throws IOException, GeneralSecurityException {
        KeyStore store;
        char[] password;
        if (options.find(TlsOptions.KEY_STORE).isPresent()) {
            password = password(options.find(TlsOptions.KEY_STORE_PASSWORD).orElse(null));
            store = loadPkcs12(options.find(TlsOptions.KEY_STORE).get(), password, "keyStore");
        } else if (options.find(TlsOptions.CERTIFICATE).isPresent()) {
            Path certificateFile = options.find(TlsOptions.CERTIFICATE).get();
            List<Certificate> chain = readCertificates(certificateFile, "certificate");
            PrivateKey key = readPrivateKey(options.find(TlsOptions.PRIVATE_KEY).orElseThrow(), chain.get(0));
            password = randomPassword();
            store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("key", key, password, chain.toArray(new Certificate[0]));
        } else {
            return null;
        }
        KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        try {
            factory.init(store, password);
        } catch (UnrecoverableKeyException e) {
            throw new IOException(
                    "cannot read the private key in keyStore "
                            + options.find(TlsOptions.KEY_STORE).orElse(null) + ": wrong keyStorePassword? ("
                            + e.getMessage() + ")",
                    e);
        }
        return factory.getKeyManagers();
    }

    private static TrustManager[] trustManagers(ConnectionOptions options)
            throws IOException, GeneralSecurityException {
        KeyStore store;
        if (options.find(TlsOptions.TRUST_STORE).isPresent()) {
            store = loadPkcs12(
                    options.find(TlsOptions.TRUST_STORE).get(),
                    password(options.find(TlsOptions.TRUST_STORE_PASSWORD).orElse(null)),
                    "trustStore");
        } else if (options.find(TlsOptions.TRUST_CERTIFICATES).isPresent()) {
            store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            int index = 0;
            for (Certificate certificate :
                    readCertificates(options.find(TlsOptions.TRUST_CERTIFICATES).get(), "trustCertificates")) {
                store.setCertificateEntry("trusted-" + index++, certificate);
            }
        } else {
            return null; // the JDK's default trust store
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        return factory.getTrustManagers();
    }

    private static char[] password(Secret secret) throws IOException {
        return secret == null ? new char[0] : new String(secret.read(), StandardCharsets.UTF_8).toCharArray();
    }

    private static char[] randomPassword() {
        byte[] bytes = new byte[16];
        new SecureRandom().nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes).toCharArray();
    }

    private static KeyStore loadPkcs12(Path file, char[] password, String what) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(in, password);
            return store;
        } catch (NoSuchFileException e) {
            throw new IOException("the TLS " + what + " " + file + " does not exist", e);
        } catch (IOException e) {
            throw new IOException(
                    "cannot read the TLS " + what + " " + file + " as PKCS#12: " + e.getMessage()
                            + (e.getCause() instanceof UnrecoverableKeyException
                                            || String.valueOf(e.getMessage()).contains("password")
                                    ? " (wrong password?)"
                                    : ""),
                    e);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the TLS " + what + " " + file + ": " + e.getMessage(), e);
        }
    }

    private static List<Certificate> readCertificates(Path file, String what) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            Collection<? extends Certificate> found =
                    CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (found.isEmpty()) {
                throw new IOException("the TLS " + what + " file " + file + " holds no PEM certificate");
            }
            return new ArrayList<>(found);
        } catch (NoSuchFileException e) {
            throw new IOException("the TLS " + what + " file " + file + " does not exist", e);
        } catch (GeneralSecurityException e) {
            throw new IOException(
                    "cannot read the TLS " + what + " file " + file + " as PEM certificates: " + e.getMessage(), e);
        }
    }

    private static PrivateKey readPrivateKey(Path file, Certificate certificate) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new IOException("the TLS privateKey file " + file + " does not exist", e);
        }
        String begin = "-----BEGIN PRIVATE KEY-----";
        int start = text.indexOf(begin);
        int end = text.indexOf("-----END PRIVATE KEY-----");
        if (start < 0 || end < start) {
            String kind = text.contains("ENCRYPTED PRIVATE KEY")
                    ? "an encrypted key (use a PKCS#12 keyStore with a " + "keyStorePasswordFile instead)"
                    : text.contains("RSA PRIVATE KEY") || text.contains("EC PRIVATE KEY")
                            ? "a key in the older PKCS#1/SEC1 form (convert it with: openssl pkcs8 -topk8 -nocrypt -in "
                                    + file + ")"
                            : "no '" + begin + "' block";
            throw new IOException("the TLS privateKey file " + file + " holds " + kind);
        }
        try {
            byte[] der = Base64.getMimeDecoder().decode(text.substring(start + begin.length(), end));
            String algorithm = certificate.getPublicKey().getAlgorithm();
            return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            throw new IOException(
                    "cannot read the TLS privateKey file " + file + " as an unencrypted PKCS#8 "
                            + certificate.getPublicKey().getAlgorithm() + " key matching the certificate: "
                            + e.getMessage(),
                    e);
        }
    }
}
