package dev.ipc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ipc.Endpoint;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which unfinished connection gives way to a newcomer. */
class HandshakeSlotsTest {

    private final List<String> pushedOut = new ArrayList<>();

    private HandshakeSlots.Slot admit(HandshakeSlots slots, String peer, String name) {
        return slots.admit(peer, () -> pushedOut.add(name));
    }

    @Test
    void withinTheLimitNothingGivesWay() {
        HandshakeSlots slots = new HandshakeSlots(Endpoint.tcp("127.0.0.1", 1), 3, 0);
        HandshakeSlots.Slot a = admit(slots, "uid 1", "a");
        admit(slots, "uid 1", "b");
        admit(slots, "uid 2", "c");
        assertEquals(List.of(), pushedOut);
        assertTrue(a.release());
        admit(slots, "uid 2", "d");
        assertEquals(List.of(), pushedOut);
        assertEquals(3, slots.size());
    }

    @Test
    void pastTheTotalTheOldestOfThePeerHoldingTheMostGivesWay() {
        HandshakeSlots slots = new HandshakeSlots(Endpoint.tcp("127.0.0.1", 1), 4, 0);
        HandshakeSlots.Slot own = admit(slots, "uid 0", "own"); // oldest of all, but its peer holds one
        HandshakeSlots.Slot first = admit(slots, "uid 65534", "flood 1");
        admit(slots, "uid 65534", "flood 2");
        admit(slots, "uid 65534", "flood 3");
        admit(slots, "uid 0", "newcomer");
        assertEquals(List.of("flood 1"), pushedOut);
        assertFalse(first.release(), "a connection pushed out must end, not go on");
        assertTrue(own.release(), "the other peer's connection was not touched");
        assertEquals(3, slots.size());
    }

    @Test
    void pastItsOwnLimitAPeerPushesOutItsOwnOldest() {
        HandshakeSlots slots = new HandshakeSlots(Endpoint.tcp("127.0.0.1", 1), 100, 2);
        admit(slots, "address 10.0.0.1", "other");
        admit(slots, "address 10.0.0.2", "a");
        admit(slots, "address 10.0.0.2", "b");
        admit(slots, "address 10.0.0.2", "c");
        admit(slots, "address 10.0.0.2", "d");
        assertEquals(List.of("a", "b"), pushedOut);
        assertEquals(3, slots.size());
    }

    @Test
    void aReleasedSlotIsNeverPushedOutAndReleasingTwiceIsHarmless() {
        HandshakeSlots slots = new HandshakeSlots(Endpoint.tcp("127.0.0.1", 1), 1, 0);
        HandshakeSlots.Slot done = admit(slots, "uid 1", "done");
        assertTrue(done.release());
        assertFalse(done.release(), "released already");
        admit(slots, "uid 1", "next");
        assertEquals(List.of(), pushedOut);
        assertEquals(1, slots.size());
    }

    @Test
    void theMessageNamesTheLimit() {
        assertTrue(new HandshakeSlots(Endpoint.tcp("127.0.0.1", 1), 128, 0)
                .pushedOutMessage()
                .contains("128 unfinished connections (maxHandshakes)"));
    }
}
