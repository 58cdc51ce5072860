package dev.ipc.internal;

import java.io.FileDescriptor;
import java.io.IOException;
import java.util.Objects;

/** What a backend's channels can do, or do differently, that {@link ChannelConnection} must know. */
public final class ChannelTraits {

    /** Passes file descriptors over one channel ({@code SCM_RIGHTS}). */
    public interface DescriptorPassing {
        /** Attaches descriptors to the next write. */
        void attach(FileDescriptor[] descriptors) throws IOException;

        /** The descriptors received by the reads since the last call; null or empty if none. */
        FileDescriptor[] takeReceived() throws IOException;

        /**
         * Makes room for at most {@code count} descriptors with each read; 0 for none, the kernel closing any that a
         * peer attaches.
         */
        void room(int count) throws IOException;
    }

    /** The JDK's channels: read -1 at the end of the stream, block virtual threads well, pass no descriptors. */
    public static ChannelTraits plain(String whyNoDescriptors) {
        return new ChannelTraits(false, true, null, Objects.requireNonNull(whyNoDescriptors, "whyNoDescriptors"));
    }

    /**
     * junixsocket's channels: they pass descriptors through {@code passing}, read 0 rather than -1 at the end of the
     * stream when non-blocking, and are served on platform threads: their blocking calls stall in virtual threads (seen
     * on JDK 25).
     */
    public static ChannelTraits junixsocket(DescriptorPassing passing) {
        return new ChannelTraits(true, false, Objects.requireNonNull(passing, "passing"), null);
    }

    final boolean emptyReadWhenReadyIsEnd;
    final boolean virtualThreads;
    final DescriptorPassing descriptorPassing;
    final String whyNoDescriptors;

    private ChannelTraits(
            boolean emptyReadWhenReadyIsEnd,
            boolean virtualThreads,
            DescriptorPassing descriptorPassing,
            String whyNoDescriptors) {
        this.emptyReadWhenReadyIsEnd = emptyReadWhenReadyIsEnd;
        this.virtualThreads = virtualThreads;
        this.descriptorPassing = descriptorPassing;
        this.whyNoDescriptors = whyNoDescriptors;
    }
}
