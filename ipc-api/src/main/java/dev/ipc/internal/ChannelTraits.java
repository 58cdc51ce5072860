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
    }

    /** Plain channels: read -1 at the end of the stream, and pass no descriptors. */
    public static ChannelTraits plain(String whyNoDescriptors) {
        return new ChannelTraits(false, null, Objects.requireNonNull(whyNoDescriptors, "whyNoDescriptors"));
    }

    /** Channels that pass descriptors through {@code passing}. */
    public static ChannelTraits passing(DescriptorPassing passing, boolean emptyReadWhenReadyIsEnd) {
        return new ChannelTraits(emptyReadWhenReadyIsEnd, Objects.requireNonNull(passing, "passing"), null);
    }

    final boolean emptyReadWhenReadyIsEnd;
    final DescriptorPassing descriptorPassing;
    final String whyNoDescriptors;

    private ChannelTraits(boolean emptyReadWhenReadyIsEnd, DescriptorPassing descriptorPassing,
            String whyNoDescriptors) {
        this.emptyReadWhenReadyIsEnd = emptyReadWhenReadyIsEnd;
        this.descriptorPassing = descriptorPassing;
        this.whyNoDescriptors = whyNoDescriptors;
    }
}
