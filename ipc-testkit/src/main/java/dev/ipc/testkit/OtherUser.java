package dev.ipc.testkit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Another local user, uid 65534 (nobody), for tests of what one user can do to another's server. */
public final class OtherUser {

    /** The other user's uid (and gid). */
    public static final long UID = 65534;

    /** Python 3, where the tests' peers written from the protocol documents run. */
    public static final Path PYTHON = Path.of("/usr/bin/python3");

    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    private OtherUser() {}

    /** Skips the test, saying why, unless this process can act as the other user and run Python there. */
    public static void assumeAvailable() {
        assumeTrue(
                "root".equals(System.getProperty("user.name"))
                        && Files.isExecutable(SETPRIV)
                        && Files.isExecutable(PYTHON),
                "acting as uid " + UID + " needs root, setpriv (util-linux) and python3");
    }

    /** {@code command} run as the other user and its group, with no supplementary groups. */
    public static List<String> command(String... command) {
        List<String> full =
                new ArrayList<>(List.of(SETPRIV.toString(), "--reuid=" + UID, "--regid=" + UID, "--clear-groups"));
        full.addAll(List.of(command));
        return full;
    }

    /** A Python script run as the other user, with its arguments. */
    public static List<String> python(String... scriptAndArguments) {
        List<String> command = new ArrayList<>(List.of(PYTHON.toString()));
        command.addAll(List.of(scriptAndArguments));
        return command(command.toArray(new String[0]));
    }
}
