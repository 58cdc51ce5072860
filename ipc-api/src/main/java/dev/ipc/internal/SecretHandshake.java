package dev.ipc.internal;

import dev.ipc.AuthenticationException;
import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.ErrorCode;
import dev.ipc.Secret;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The shared-secret handshake: both sides prove with HMAC-SHA256 over fresh nonces that they know the secret, before
 * any application frame, as {@code docs/PROTOCOL.md} describes.
 *
 * <pre>
 *   client: AUTH_HELLO     7, "IPC", version 1, client nonce (32)
 *   server: AUTH_CHALLENGE 8, server nonce (32), HMAC(secret, "ipc-auth-1 server" | client nonce | server nonce)
 *   client: AUTH_PROOF     9, HMAC(secret, "ipc-auth-1 client" | client nonce | server nonce)
 *   server: AUTH_OK        10                      (or ERROR with code UNAUTHORIZED, then close)
 * </pre>
 *
 * Each frame is a u32 length and a body of at most {@link #MAX_FRAME} bytes; longer ones are refused before anything is
 * allocated. Proofs are compared in constant time.
 */
public final class SecretHandshake {

    /** The largest handshake frame body either side reads. */
    public static final int MAX_FRAME = 256;
    /** The shortest secret accepted, in bytes. */
    public static final int MIN_SECRET = 16;

    static final byte AUTH_HELLO = 7;
    static final byte AUTH_CHALLENGE = 8;
    static final byte AUTH_PROOF = 9;
    static final byte AUTH_OK = 10;

    private static final int NONCE = 32;
    private static final int MAC = 32;
    private static final int VERSION = 1;
    private static final SecureRandom RANDOM = new SecureRandom();

    private SecretHandshake() {}

    /**
     * Reads the options' shared secret and checks it is long enough to be one; null if they name none.
     *
     * @throws IOException naming the file or variable if it can't be read
     * @throws IllegalArgumentException naming the source if the secret is too short
     */
    public static byte[] secretOf(ConnectionOptions options) throws IOException {
        if (options.find(ConnectionOptions.SECRET).isEmpty()) {
            return null;
        }
        Secret source = options.find(ConnectionOptions.SECRET).get();
        return check(source.read(), source);
    }

    /** Checks that a secret is long enough to be one; returns it. */
    public static byte[] check(byte[] secret, Object source) {
        if (secret.length < MIN_SECRET) {
            throw new IllegalArgumentException(source + " is " + secret.length + " bytes; a shared secret must be at "
                    + "least " + MIN_SECRET + " (make one with: head -c 32 /dev/urandom | base64)");
        }
        return secret;
    }

    /**
     * The client's side: proves the secret and checks the server's proof.
     *
     * @throws AuthenticationException if the server refuses the proof, does not know the secret, or asks for none
     * @throws ProtocolException if the server's answer is malformed or oversized
     * @throws EOFException if the server closes the connection part way
     */
    public static void prove(Connection connection, byte[] secret, String peer) throws IOException {
        byte[] clientNonce = nonce();
        ByteBuffer hello = ByteBuffer.allocate(5 + NONCE)
                .put(AUTH_HELLO)
                .put((byte) (Codec.MAGIC >> 16))
                .put((byte) (Codec.MAGIC >> 8))
                .put((byte) Codec.MAGIC)
                .put((byte) VERSION)
                .put(clientNonce);
        write(connection.output(), hello.array());
        byte[] challenge = read(connection.input(), peer, "the server's challenge");
        if (challenge[0] == Codec.ERROR) {
            throw refusedBy(peer, challenge);
        }
        if (challenge[0] != AUTH_CHALLENGE) {
            throw new AuthenticationException(peer + " did not answer the shared-secret hello (its first frame is of "
                    + "type " + challenge[0] + ", not AUTH_CHALLENGE " + AUTH_CHALLENGE + "): it has no secret "
                    + "configured, or is not an ipc peer");
        }
        expectLength(challenge, 1 + NONCE + MAC, peer, "AUTH_CHALLENGE");
        byte[] serverNonce = Arrays.copyOfRange(challenge, 1, 1 + NONCE);
        byte[] serverProof = Arrays.copyOfRange(challenge, 1 + NONCE, challenge.length);
        if (!MessageDigest.isEqual(serverProof, mac(secret, "server", clientNonce, serverNonce))) {
            refuse(connection, "the server's proof is wrong: the two sides hold different secrets");
            throw new AuthenticationException(peer + " does not know the shared secret (its proof is wrong): "
                    + "check that both sides read the same secret");
        }
        write(
                connection.output(),
                ByteBuffer.allocate(1 + MAC)
                        .put(AUTH_PROOF)
                        .put(mac(secret, "client", clientNonce, serverNonce))
                        .array());
        byte[] verdict = read(connection.input(), peer, "the server's verdict");
        if (verdict[0] == Codec.ERROR) {
            throw refusedBy(peer, verdict);
        }
        if (verdict[0] != AUTH_OK || verdict.length != 1) {
            throw new ProtocolException(peer + " answered the shared-secret proof with a frame of type " + verdict[0]
                    + " and " + verdict.length + " bytes, not AUTH_OK");
        }
    }

    /**
     * The server's side: checks the client's proof and proves the secret in turn. A client that fails is sent an ERROR
     * with code UNAUTHORIZED before this throws.
     *
     * @throws AuthenticationException if the client's proof is wrong or it sent none
     * @throws ProtocolException if the client's frames are malformed or oversized
     * @throws EOFException if the client closes the connection part way
     */
    public static void verify(Connection connection, byte[] secret, String peer) throws IOException {
        byte[] hello = readFromClient(connection, peer, "the client's hello");
        if (hello[0] != AUTH_HELLO) {
            String why = hello[0] == Codec.HELLO
                    ? "it sent a plain HELLO: this server requires a shared secret (secretFile or secretEnv) and "
                            + "the client has none configured"
                    : "its first frame is of type " + hello[0] + ", not AUTH_HELLO " + AUTH_HELLO;
            refuse(connection, "this server requires a shared secret; configure secretFile or secretEnv");
            throw new AuthenticationException(peer + " did not prove the shared secret: " + why);
        }
        int magic = hello.length < 5 ? 0 : (hello[1] & 0xff) << 16 | (hello[2] & 0xff) << 8 | (hello[3] & 0xff);
        if (magic == Codec.MAGIC && hello[4] != VERSION) {
            String why = "shared-secret handshake version " + (hello[4] & 0xff) + " is not spoken here; this server "
                    + "speaks version " + VERSION;
            refuse(connection, ErrorCode.UNSUPPORTED_VERSION, why);
            throw new ProtocolException(peer + " asked for " + why);
        }
        if (magic != Codec.MAGIC || hello.length != 5 + NONCE) {
            String why = "an AUTH_HELLO is 7, \"IPC\", version 1 and a 32-byte nonce (" + (5 + NONCE) + " bytes)";
            refuse(connection, ErrorCode.PROTOCOL_ERROR, why);
            throw new ProtocolException(peer + " sent an AUTH_HELLO of " + hello.length + " bytes and magic 0x"
                    + Integer.toHexString(magic) + ": " + why);
        }
        byte[] clientNonce = Arrays.copyOfRange(hello, 5, hello.length);
        byte[] serverNonce = nonce();
        write(
                connection.output(),
                ByteBuffer.allocate(1 + NONCE + MAC)
                        .put(AUTH_CHALLENGE)
                        .put(serverNonce)
                        .put(mac(secret, "server", clientNonce, serverNonce))
                        .array());
        byte[] proof = readFromClient(connection, peer, "the client's proof");
        if (proof[0] == Codec.ERROR) {
            throw refusedBy(peer, proof);
        }
        if (proof[0] != AUTH_PROOF) {
            refuse(connection, "expected the shared-secret proof");
            throw new AuthenticationException(peer + " answered the challenge with a frame of type " + proof[0]
                    + ", not AUTH_PROOF " + AUTH_PROOF);
        }
        if (proof.length != 1 + MAC) {
            refuse(connection, ErrorCode.PROTOCOL_ERROR, "an AUTH_PROOF is 9 and a 32-byte proof (33 bytes)");
            throw new ProtocolException(peer + " sent an AUTH_PROOF of " + proof.length + " bytes, not " + (1 + MAC));
        }
        if (!MessageDigest.isEqual(
                Arrays.copyOfRange(proof, 1, proof.length), mac(secret, "client", clientNonce, serverNonce))) {
            refuse(connection, "wrong shared secret");
            throw new AuthenticationException(peer + " does not know the shared secret (its proof is " + "wrong)");
        }
        write(connection.output(), new byte[] {AUTH_OK});
    }

    private static AuthenticationException refusedBy(String peer, byte[] error) throws ProtocolException {
        if (!(Codec.decode(error, Codec.VERSION) instanceof Frame.Error refusal)) {
            throw new ProtocolException(peer + " sent a malformed ERROR frame of " + error.length + " bytes");
        }
        return new AuthenticationException(
                peer + " refused the connection (" + refusal.errorCode() + "): " + refusal.message());
    }

    private static void refuse(Connection connection, String message) {
        refuse(connection, ErrorCode.UNAUTHORIZED, message);
    }

    private static void refuse(Connection connection, ErrorCode code, String message) {
        try {
            write(connection.output(), Codec.error(0, code, message));
        } catch (IOException e) {
            // The client is gone; the caller reports the failure.
        }
    }

    /** Reads a client's handshake frame; one of a length out of bounds is answered PROTOCOL_ERROR, then refused. */
    private static byte[] readFromClient(Connection connection, String peer, String what) throws IOException {
        try {
            return read(connection.input(), peer, what);
        } catch (ProtocolException e) {
            refuse(connection, ErrorCode.PROTOCOL_ERROR, e.getMessage());
            throw e;
        }
    }

    private static void expectLength(byte[] frame, int length, String peer, String what) throws ProtocolException {
        if (frame.length != length) {
            throw new ProtocolException(peer + " sent an " + what + " of " + frame.length + " bytes, not " + length);
        }
    }

    private static void write(OutputStream out, byte[] body) throws IOException {
        byte[] frame = ByteBuffer.allocate(4 + body.length)
                .putInt(body.length)
                .put(body)
                .array();
        out.write(frame);
        out.flush();
    }

    /** Reads one handshake frame, refusing a length over {@link #MAX_FRAME} before reading its body. */
    private static byte[] read(InputStream in, String peer, String what) throws IOException {
        byte[] header = readFully(in, 4, peer, what + "'s length");
        int length = ByteBuffer.wrap(header).getInt();
        if (length < 1 || length > MAX_FRAME) {
            throw new ProtocolException(what + " from " + peer + " declares " + Integer.toUnsignedString(length)
                    + " bytes; handshake frames are 1 to " + MAX_FRAME + " bytes");
        }
        return readFully(in, length, peer, what);
    }

    private static byte[] readFully(InputStream in, int length, String peer, String what) throws IOException {
        byte[] bytes = in.readNBytes(length);
        if (bytes.length < length) {
            throw new EOFException(peer + " closed the connection inside " + what + ": after " + bytes.length + " of "
                    + length + " bytes");
        }
        return bytes;
    }

    private static byte[] nonce() {
        byte[] nonce = new byte[NONCE];
        RANDOM.nextBytes(nonce);
        return nonce;
    }

    private static byte[] mac(byte[] secret, String side, byte[] clientNonce, byte[] serverNonce) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update(("ipc-auth-1 " + side).getBytes(StandardCharsets.US_ASCII));
            mac.update(clientNonce);
            mac.update(serverNonce);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
        }
    }
}
