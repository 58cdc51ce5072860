/** Unix domain socket transports for ipc: the JDK's channels and, where present, junixsocket. */
module dev.ipc.unix {
    requires dev.ipc;
    requires jdk.net;
    requires org.slf4j;
    requires static org.newsclub.net.unix;

    provides dev.ipc.spi.Transport with
            dev.ipc.unix.JdkUnixTransport,
            dev.ipc.unix.JunixsocketUnixTransport;
    provides dev.ipc.spi.DatagramTransport with
            dev.ipc.unix.UnixDatagramTransport;
    provides dev.ipc.spi.ListenerSource with
            dev.ipc.unix.SystemdListeners;
}
