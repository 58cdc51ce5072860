package dev.ipc;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * What the operating system says about the process on the other side of a connection.
 *
 * <p>Each value is present only where the transport can tell: Unix sockets through the JDK give the user and group
 * names, through junixsocket the numeric uid, gid and the pid as well; TLS gives the subject of the certificate the
 * peer presented ({@link #principal()}); plain TCP gives none. An absent value is absent, never zero. An
 * {@link AccessPolicy} reads all of them alike, so one policy story covers every transport.
 */
public final class PeerCredentials {

    private static final PeerCredentials UNKNOWN = new PeerCredentials(null, null, null, null, null, null);

    private final Long uid;
    private final Long gid;
    private final Long pid;
    private final String user;
    private final String group;
    private final String principal;

    private PeerCredentials(Long uid, Long gid, Long pid, String user, String group, String principal) {
        this.principal = principal;
        this.uid = uid;
        this.gid = gid;
        this.pid = pid;
        this.user = user;
        this.group = group;
    }

    /** Credentials with nothing known, as for TCP. */
    public static PeerCredentials unknown() {
        return UNKNOWN;
    }

    /** Numeric credentials, as {@code SO_PEERCRED} gives them; a negative value means "not known". */
    public static PeerCredentials ofIds(long uid, long gid, long pid) {
        return new PeerCredentials(uid < 0 ? null : uid, gid < 0 ? null : gid, pid <= 0 ? null : pid, null, null, null);
    }

    /** Credentials with whatever is known: a negative id or a null name means "not known". */
    public static PeerCredentials of(long uid, long gid, long pid, String user, String group) {
        return new PeerCredentials(
                uid < 0 ? null : uid, gid < 0 ? null : gid, pid <= 0 ? null : pid, user, group, null);
    }

    /** Credentials known by name only; either name may be null for "not known". */
    public static PeerCredentials ofNames(String user, String group) {
        return new PeerCredentials(null, null, null, user, group, null);
    }

    /**
     * Credentials of a peer known by a certificate: {@code subject} is its distinguished name as RFC 2253 writes it,
     * such as {@code CN=backup-agent,O=Example}.
     */
    public static PeerCredentials ofPrincipal(String subject) {
        return new PeerCredentials(null, null, null, null, null, Objects.requireNonNull(subject, "subject"));
    }

    /** The subject of the certificate the peer presented over TLS (RFC 2253 form); empty where none was. */
    public Optional<String> principal() {
        return Optional.ofNullable(principal);
    }

    /** The common name (CN) in {@link #principal()}; empty if there is no principal or it has no CN. */
    public Optional<String> commonName() {
        if (principal == null) {
            return Optional.empty();
        }
        try {
            LdapName name = new LdapName(principal);
            for (int i = name.size() - 1; i >= 0; i--) {
                Rdn rdn = name.getRdns().get(i);
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return Optional.of(String.valueOf(rdn.getValue()));
                }
            }
        } catch (InvalidNameException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** The peer's user id. */
    public OptionalLong uid() {
        return uid == null ? OptionalLong.empty() : OptionalLong.of(uid);
    }

    /** The peer's primary group id. */
    public OptionalLong gid() {
        return gid == null ? OptionalLong.empty() : OptionalLong.of(gid);
    }

    /** The peer's process id, as of when it connected. */
    public OptionalLong pid() {
        return pid == null ? OptionalLong.empty() : OptionalLong.of(pid);
    }

    /** The peer's user name, where the transport gives names. */
    public Optional<String> user() {
        return Optional.ofNullable(user);
    }

    /** The peer's primary group name, where the transport gives names. */
    public Optional<String> group() {
        return Optional.ofNullable(group);
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof PeerCredentials)) {
            return false;
        }
        PeerCredentials that = (PeerCredentials) other;
        return Objects.equals(uid, that.uid)
                && Objects.equals(gid, that.gid)
                && Objects.equals(pid, that.pid)
                && Objects.equals(user, that.user)
                && Objects.equals(group, that.group)
                && Objects.equals(principal, that.principal);
    }

    @Override
    public int hashCode() {
        return Objects.hash(uid, gid, pid, user, group, principal);
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder("PeerCredentials{");
        String separator = "";
        for (Object[] part : new Object[][] {
            {"uid", uid}, {"gid", gid}, {"pid", pid}, {"user", user}, {"group", group}, {"principal", principal}
        }) {
            if (part[1] != null) {
                out.append(separator).append(part[0]).append('=').append(part[1]);
                separator = ", ";
            }
        }
        return out.append(separator.isEmpty() ? "unknown}" : "}").toString();
    }
}
