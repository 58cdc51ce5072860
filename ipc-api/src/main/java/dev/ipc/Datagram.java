package dev.ipc;

import java.util.Objects;
import java.util.Optional;

/**
 * One datagram that a {@link DatagramSocket} received: its bytes, whole, and who sent it.
 *
 * <p>Immutable in its fields; the payload array is this datagram's own, received for it alone, so the caller may keep
 * it or change it.
 */
public final class Datagram {

    private final byte[] payload;
    private final Endpoint sender;

    /**
     * A datagram.
     *
     * @param sender who sent it, or null if the sender has no address (an unbound Unix datagram socket)
     */
    public Datagram(byte[] payload, Endpoint sender) {
        this.payload = Objects.requireNonNull(payload, "payload");
        this.sender = sender;
    }

    /** The bytes, all of them: a datagram is never cut short (see {@link DatagramOptions#MAX_DATAGRAM_SIZE}). */
    public byte[] payload() {
        return payload;
    }

    /** The payload's length in bytes. */
    public int length() {
        return payload.length;
    }

    /**
     * The sender's address, to reply to with {@link DatagramSocket#send(Endpoint, byte[])}: {@code udp://ADDRESS:PORT},
     * {@code unixgram:PATH} or {@code unixgram:@NAME}; empty when the sender's socket has no address (a Unix datagram
     * socket that was never bound, as {@code logger} uses), which cannot be replied to.
     *
     * @apiNote An address says where to reply, not who sent: any process that may send here can send from any address
     *     it may bind. Datagrams carry no credentials the library can read (see {@link DatagramSocket}).
     */
    public Optional<Endpoint> sender() {
        return Optional.ofNullable(sender);
    }

    @Override
    public String toString() {
        return "Datagram{" + payload.length + " bytes from " + (sender == null ? "an unbound socket" : sender) + "}";
    }
}
