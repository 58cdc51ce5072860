/**
 * The TCP transport for ipc, on loopback or across a network.
 */
module dev.ipc.tcp {
    requires dev.ipc;

    provides dev.ipc.spi.Transport with dev.ipc.tcp.TcpTransport;
}
