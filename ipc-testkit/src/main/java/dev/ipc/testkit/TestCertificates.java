package dev.ipc.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Certificates for TLS tests, made when first asked for with the JDK's {@code keytool} (no private key is ever
 * committed), once per JVM, in a temp directory removed when the JVM exits.
 *
 * <p>A test authority signs a server certificate for {@code localhost} and {@code 127.0.0.1} and a client certificate
 * ({@code CN=test-client}); the bad cases are a server certificate from another authority, an expired one, and one for
 * another host name. Every keystore is PKCS#12 with the password in {@link #passwordFile()}; PEM copies exist for the
 * server's key and certificate.
 */
public final class TestCertificates {

    private static final String PASSWORD = "test-password";
    private static volatile TestCertificates instance;

    private final Path directory;

    private TestCertificates(Path directory) {
        this.directory = directory;
    }

    /** The certificates, made on the first call. */
    public static synchronized TestCertificates get() throws IOException {
        if (instance == null) {
            Path directory = Files.createTempDirectory("ipc-certs");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(directory)));
            TestCertificates made = new TestCertificates(directory);
            made.make();
            instance = made;
        }
        return instance;
    }

    /** A file holding the password of every keystore here, mode 0600. */
    public Path passwordFile() {
        return directory.resolve("password");
    }

    /** The test authority's certificate, PEM. */
    public Path caPem() {
        return directory.resolve("ca.pem");
    }

    /** Another authority's certificate, PEM; it signed {@link #strangerKeyStore()}. */
    public Path otherCaPem() {
        return directory.resolve("other-ca.pem");
    }

    /** The server's key and chain: CN=localhost, for localhost and 127.0.0.1, signed by the test authority. */
    public Path serverKeyStore() {
        return directory.resolve("server.p12");
    }

    /** The client's key and chain: CN=test-client, signed by the test authority. */
    public Path clientKeyStore() {
        return directory.resolve("client.p12");
    }

    /** A server certificate for localhost signed by another authority. */
    public Path strangerKeyStore() {
        return directory.resolve("stranger.p12");
    }

    /** A server certificate for localhost, signed by the test authority, that expired yesterday. */
    public Path expiredKeyStore() {
        return directory.resolve("expired.p12");
    }

    /** A server certificate signed by the test authority for the host other.example only. */
    public Path otherHostKeyStore() {
        return directory.resolve("otherhost.p12");
    }

    /** The server's certificate chain, PEM. */
    public Path serverCertificatePem() {
        return directory.resolve("server.pem");
    }

    /** The server's private key, unencrypted PKCS#8 PEM. */
    public Path serverKeyPem() {
        return directory.resolve("server.key");
    }

    /**
     * The query that gives an endpoint a key store and trust in the test authority: {@code keyStore=...&
     * keyStorePasswordFile=...&trustCertificates=...}.
     */
    public String query(Path keyStore) {
        return "keyStore=" + keyStore + "&keyStorePasswordFile=" + passwordFile() + "&trustCertificates=" + caPem();
    }

    /**
     * The same for PEM files: the server's certificate chain and key, and trust in the test authority
     * ({@code certificate=...&privateKey=...&trustCertificates=...}).
     */
    public String pemQuery() {
        return "certificate=" + serverCertificatePem() + "&privateKey=" + serverKeyPem() + "&trustCertificates="
                + caPem();
    }

    private void make() throws IOException {
        Files.writeString(passwordFile(), PASSWORD);
        Files.setPosixFilePermissions(passwordFile(), PosixFilePermissions.fromString("rw-------"));
        authority("ca", "CN=ipc test CA");
        authority("other-ca", "CN=another CA");
        signed("server", "ca", "CN=localhost", "SAN=dns:localhost,ip:127.0.0.1", null);
        signed("client", "ca", "CN=test-client", null, null);
        signed("stranger", "other-ca", "CN=localhost", "SAN=dns:localhost,ip:127.0.0.1", null);
        signed("expired", "ca", "CN=localhost", "SAN=dns:localhost,ip:127.0.0.1", "-3d");
        signed("otherhost", "ca", "CN=other.example", "SAN=dns:other.example", null);
        exportPem("server");
    }

    private void authority(String name, String subject) throws IOException {
        keytool(
                "-genkeypair",
                "-alias",
                name,
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                subject,
                "-ext",
                "bc:c",
                "-validity",
                "30",
                "-keystore",
                directory.resolve(name + ".p12").toString());
        keytool(
                "-exportcert",
                "-rfc",
                "-alias",
                name,
                "-keystore",
                directory.resolve(name + ".p12").toString(),
                "-file",
                directory.resolve(name + ".pem").toString());
    }

    private void signed(String name, String authority, String subject, String extension, String startDate)
            throws IOException {
        String store = directory.resolve(name + ".p12").toString();
        String request = directory.resolve(name + ".csr").toString();
        String certificate = directory.resolve(name + ".crt").toString();
        keytool(
                "-genkeypair",
                "-alias",
                name,
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                subject,
                "-validity",
                "30",
                "-keystore",
                store);
        keytool("-certreq", "-alias", name, "-keystore", store, "-file", request);
        List<String> sign = new ArrayList<>(List.of(
                "-gencert",
                "-rfc",
                "-alias",
                authority,
                "-keystore",
                directory.resolve(authority + ".p12").toString(),
                "-infile",
                request,
                "-outfile",
                certificate));
        if (extension != null) {
            sign.addAll(List.of("-ext", extension));
        }
        if (startDate != null) {
            sign.addAll(List.of("-startdate", startDate, "-validity", "1"));
        } else {
            sign.addAll(List.of("-validity", "30"));
        }
        keytool(sign.toArray(new String[0]));
        keytool(
                "-importcert",
                "-noprompt",
                "-alias",
                authority,
                "-file",
                directory.resolve(authority + ".pem").toString(),
                "-keystore",
                store);
        keytool("-importcert", "-noprompt", "-alias", name, "-file", certificate, "-keystore", store);
    }

    private void exportPem(String name) throws IOException {
        try (InputStream in = Files.newInputStream(directory.resolve(name + ".p12"))) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(in, PASSWORD.toCharArray());
            Key key = store.getKey(name, PASSWORD.toCharArray());
            StringBuilder chain = new StringBuilder();
            for (Certificate certificate : store.getCertificateChain(name)) {
                chain.append(pem("CERTIFICATE", certificate.getEncoded()));
            }
            Files.writeString(serverCertificatePem(), chain);
            Files.writeString(serverKeyPem(), pem("PRIVATE KEY", key.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot export " + name + " as PEM", e);
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    private void keytool(String... arguments) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(arguments));
        command.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
        Process process = new ProcessBuilder(command)
                .directory(directory.toFile())
                .redirectErrorStream(true)
                .start();
        try {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IOException("keytool " + String.join(" ", arguments) + " failed: " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool", e);
        } finally {
            process.destroyForcibly();
        }
    }

    private static void deleteTree(Path directory) {
        try (Stream<Path> files = Files.walk(directory)) {
            files.sorted(Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // a temp directory the OS cleans up anyway
        }
    }
}
