package dev.ipc.unix;

import dev.ipc.DatagramSocket;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Run by {@link UnixDatagramFileTest} in a process with a loose umask: binds {@code unixgram:ARG0}, prints the file's
 * mode, sends one datagram to {@code ARG1}, prints the reply's bytes, and exits.
 */
public final class LooseUmaskBinder {

    private LooseUmaskBinder() {}

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        try (DatagramSocket socket = Ipc.bindDatagram(Endpoint.parse("unixgram:" + path + "?readTimeout=20s"))) {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0777;
            System.out.println("0" + Integer.toOctalString(mode));
            socket.send(Endpoint.parse(args[1]), new byte[] {1});
            System.out.println("reply " + socket.receive().payload()[0]);
        }
    }
}
