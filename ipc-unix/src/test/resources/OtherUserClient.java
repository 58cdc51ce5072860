import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Run by DaemonSocketTest as another user (through setpriv) with the JDK's single-file launcher:
 * connects to the socket file in args[0] and prints DENIED, or what it read until the end of the stream: EOF, or
 * "ERROR code message, then EOF" for a refusal that says why, or DATA.
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
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        while (channel.read(buffer) >= 0 && buffer.hasRemaining()) {
            // until the end of the stream
        }
        buffer.flip();
        if (buffer.remaining() == 0) {
            System.out.println("EOF");
        } else if (buffer.remaining() >= 11 && buffer.get(4) == 5) {
            int code = buffer.getShort(9);
            String message = new String(buffer.array(), 11, buffer.remaining() - 11, "UTF-8");
            System.out.println("ERROR " + code + " " + message + ", then EOF");
        } else {
            System.out.println("DATA " + buffer.remaining());
        }
        channel.close();
    }
}
