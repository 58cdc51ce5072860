package dev.ipc.internal;

import dev.ipc.Listener;
import java.io.IOException;

/** A {@link Listener} whose connections are {@link FramedConnection}s: what every transport's listener is. */
public interface FramedListener extends Listener {

    @Override
    FramedConnection accept() throws IOException;
}
