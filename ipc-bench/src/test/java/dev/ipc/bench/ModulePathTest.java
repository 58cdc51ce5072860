package dev.ipc.bench;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The library's modules resolve on the module path, with junixsocket there and without it. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ModulePathTest {

    @ParameterizedTest(name = "junixsocket present: {0}")
    @ValueSource(booleans = {true, false})
    void modulesResolveAndServe(boolean junixsocketPresent) throws Exception {
        List<String> classPath =
                Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator));
        List<String> modulePath = classPath.stream()
                .filter(entry -> entry.contains("ipc-api")
                        || entry.contains("ipc-unix")
                        || entry.contains("ipc-tcp")
                        || entry.contains("slf4j-api")
                        || (junixsocketPresent && entry.contains("junixsocket")))
                .collect(Collectors.toList());
        String testClasses = classPath.stream()
                .filter(entry -> entry.endsWith("test-classes"))
                .findFirst()
                .orElseThrow();

        List<String> command = new ArrayList<>(
                List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        if (junixsocketPresent && Runtime.version().feature() >= 24) {
            command.add("--enable-native-access=org.newsclub.net.unix");
        }
        command.addAll(List.of(
                "--module-path",
                String.join(File.pathSeparator, modulePath),
                "--add-modules",
                junixsocketPresent
                        ? "dev.ipc.unix,dev.ipc.tcp,org.newsclub.net.unix,com.kohlschutter.junixsocket.nativecommon"
                        : "dev.ipc.unix,dev.ipc.tcp",
                "-cp",
                testClasses,
                ModuleCheck.class.getName(),
                String.valueOf(junixsocketPresent)));
        Path output = Files.createTempFile("module-check", ".txt");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .start();
            try {
                assertTrue(process.waitFor(45, TimeUnit.SECONDS), "module check finished");
            } finally {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            String printed = Files.readString(output, UTF_8);
            assertEquals(0, process.exitValue(), printed + "\ncommand: " + command);
            assertTrue(printed.contains("MODULES OK"), printed);
            assertTrue(!printed.contains("WARNING"), "no JVM warnings: " + printed);
        } finally {
            Files.delete(output);
        }
    }
}
