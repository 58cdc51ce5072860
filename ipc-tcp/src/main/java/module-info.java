/** The TCP and TLS transports for ipc, on loopback or across a network. */
module dev.ipc.tcp {
    requires dev.ipc;
    requires org.slf4j;

    provides dev.ipc.spi.Transport with
            dev.ipc.tcp.TcpTransport,
            dev.ipc.tcp.TlsTransport;
}
