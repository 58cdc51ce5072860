/** The TCP, TLS and UDP transports for ipc, on loopback or across a network. */
module dev.ipc.tcp {
    requires dev.ipc;
    requires org.slf4j;

    provides dev.ipc.spi.Transport with
            dev.ipc.tcp.TcpTransport,
            dev.ipc.tcp.TlsTransport;
    provides dev.ipc.spi.DatagramTransport with
            dev.ipc.tcp.UdpTransport;
}
