/**
 * The ipc API: endpoints, connections, listeners, options, the server and the client. The transport service interface
 * ({@code dev.ipc.spi}) and the connection skeleton ({@code dev.ipc.internal}) are exported only to the project's own
 * backends: they are not API.
 */
@SuppressWarnings("module") // the backend modules are compiled after this one
module dev.ipc {
    requires org.slf4j;
    requires java.naming; // LdapName, to read a certificate subject's CN

    exports dev.ipc;
    exports dev.ipc.spi to
            dev.ipc.unix,
            dev.ipc.tcp;
    exports dev.ipc.internal to
            dev.ipc.unix,
            dev.ipc.tcp;

    uses dev.ipc.spi.Transport;
    uses dev.ipc.spi.ListenerSource;
    uses dev.ipc.spi.DatagramTransport;
}
