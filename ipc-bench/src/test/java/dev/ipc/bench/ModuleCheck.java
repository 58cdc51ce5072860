package dev.ipc.bench;

import dev.ipc.Connection;
import dev.ipc.ConnectionOptions;
import dev.ipc.Endpoint;
import dev.ipc.Ipc;
import dev.ipc.Listener;
import dev.ipc.TransportInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Run by {@link ModulePathTest} in a JVM whose ipc modules are on the module path: checks that they resolved as named
 * modules, that the transports are found through their {@code provides}, and that messages flow; with junixsocket
 * absent, that its transport says why instead of failing.
 */
public final class ModuleCheck {

    private ModuleCheck() {}

    public static void main(String[] args) throws Exception {
        boolean junixsocketPresent = Boolean.parseBoolean(args[0]);
        require("dev.ipc".equals(Ipc.class.getModule().getName()), "dev.ipc is a named module");
        for (TransportInfo transport : Ipc.transports()) {
            System.out.println(transport.id() + ", available: " + transport.available()
                    + transport
                            .unavailability()
                            .map(cause -> " (" + cause + ")")
                            .orElse(""));
        }
        Module unix = ModuleLayer.boot().findModule("dev.ipc.unix").orElseThrow();
        require(
                unix.getDescriptor().provides().stream()
                        .anyMatch(provides -> provides.service().equals("dev.ipc.spi.Transport")),
                "dev.ipc.unix provides the transports");
        Path directory = Files.createTempDirectory("ipcm");
        try {
            echo(Endpoint.unix(directory.resolve("m.sock")));
            echo(Endpoint.parse("tcp://127.0.0.1:0"));
            TransportInfo junixsocket = Ipc.transports().stream()
                    .filter(t -> t.id().equals("unix/junixsocket"))
                    .findFirst()
                    .orElseThrow();
            if (junixsocketPresent) {
                require(junixsocket.available(), "junixsocket available: " + junixsocket.unavailability());
                echo(Endpoint.unixAbstract(
                                "ipc-module-check-" + ProcessHandle.current().pid())
                        .withParameter("access", "same-user"));
            } else {
                require(!junixsocket.available(), "junixsocket unavailable when absent");
                require(
                        junixsocket.unavailability().orElseThrow().contains("NoClassDefFoundError"),
                        "the cause is the missing classes: " + junixsocket.unavailability());
            }
        } finally {
            Files.deleteIfExists(directory.resolve("m.sock"));
            Files.delete(directory);
        }
        System.out.println("MODULES OK");
    }

    private static void echo(Endpoint endpoint) throws Exception {
        try (Listener listener = Ipc.listen(endpoint);
                Connection client = Ipc.connect(listener.endpoint());
                Connection server = listener.accept()) {
            client.send(new byte[] {1, 2, 3});
            server.send(server.receive());
            require(Arrays.equals(new byte[] {1, 2, 3}, client.receive()), "echo on " + endpoint);
            System.out.println("echo ok on " + endpoint + " via "
                    + Ipc.transportFor(endpoint, ConnectionOptions.defaults()).id());
        }
    }

    private static void require(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError("module check failed: " + what);
        }
    }
}
