import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Run by DaemonSocketTest as another user (through setpriv) with the JDK's single-file launcher:
 * connects to the socket file in args[0] and prints DENIED, EOF or DATA.
 */
public class OtherUserClient {
    public static void main(String[] args) throws Exception {
        SocketChannel channel;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(args[0]));
        } catch (Exception e) {
            System.out.println("DENIED " + e.getMessage());
            return;
        }
        ByteBuffer buffer = ByteBuffer.allocate(16);
        int read = channel.read(buffer);
        System.out.println(read < 0 ? "EOF" : "DATA " + read);
        channel.close();
    }
}
