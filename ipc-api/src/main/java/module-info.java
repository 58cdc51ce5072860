/** The ipc API: endpoints, connections, listeners, options, and the transport SPI that backends implement. */
@SuppressWarnings("module") // the backend modules are compiled after this one
module dev.ipc {
    requires org.slf4j;
    requires java.naming; // LdapName, to read a certificate subject's CN

    exports dev.ipc;
    exports dev.ipc.spi;
    exports dev.ipc.internal to
            dev.ipc.unix,
            dev.ipc.tcp;

    uses dev.ipc.spi.Transport;
}
