import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Run by DaemonSocketTest as another user (through setpriv) with the JDK's single-file launcher: listens on the socket
 * file in args[0] (in a directory that user owns), prints READY, and holds every connection until killed, saying
 * nothing: an impostor, or a service running as its own user.
 */
public class OtherUserServer {
    public static void main(String[] args) throws Exception {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(args[0]));
        System.out.println("READY");
        System.out.flush();
        List<SocketChannel> held = new ArrayList<>();
        while (true) {
            held.add(server.accept());
        }
    }
}
