#!/usr/bin/env python3
"""Holds a running ipc server to docs/PROTOCOL.md, byte by byte, from outside the JVM.

Usage: ipc_conformance.py ENDPOINT CHECK...   Runs each CHECK (a function below, named in PROTOCOL.md beside the
                                              rule it tests) and prints one line per check:
                                              "PASS name", "FAIL name: why" or "SKIP name: why".
       ipc_conformance.py --list              Prints the names of every check.

ENDPOINT is the server's, as ipc_client.py reads it: its query names the TLS files and the shared secret, and the
server's own settings that some checks need (frameTimeout, handshakeTimeout, idleTimeout, maxConnections). The
server's handler must echo each payload, except that "boom" fails and "sleep:MS:TEXT" answers TEXT after MS ms.

The "shutdown" check prints the line "SHUTDOWN" once its requests are in flight; whoever runs it then closes the
server, and the check reads what follows.
"""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipc_client as ipc  # noqa: E402  (beside this file)

HELLO, WELCOME, REQUEST, RESPONSE, ERROR, GOAWAY = 1, 2, 3, 4, 5, 6
AUTH_HELLO, AUTH_CHALLENGE, AUTH_PROOF, AUTH_OK = 7, 8, 9, 10
CANCEL, STREAM, CREDIT = 11, 12, 13
PROTOCOL_ERROR, UNSUPPORTED_VERSION, INTERNAL, SHUTTING_DOWN = 1, 2, 3, 4
TOO_MANY_REQUESTS, TOO_MANY_CONNECTIONS, FRAME_TOO_LARGE, TIMEOUT, UNAUTHORIZED, CANCELLED = 5, 6, 7, 8, 9, 10
WAIT = 15.0  # seconds any single read may take on a loaded machine

CHECKS = {}


def check(function):
    CHECKS[function.__name__] = function
    return function


class Failed(Exception):
    pass


class Skipped(Exception):
    pass


def expect(condition, why):
    if not condition:
        raise Failed(why)


def frame(body):
    return struct.pack(">I", len(body)) + body


def hello_body(version=2, extra=b""):
    return struct.pack(">B3sH", HELLO, b"IPC", version) + extra


def request_body(request_id, payload):
    return struct.pack(">BI", REQUEST, request_id) + payload


def request_v3(request_id, payload, timeout_ms=0, window=0):
    """A version 3 REQUEST: id, timeout (ms, 0 for none), window (0 for a single reply), payload."""
    return struct.pack(">BIII", REQUEST, request_id, timeout_ms, window) + payload


def cancel_body(request_id):
    return struct.pack(">BI", CANCEL, request_id)


def credit_body(request_id, count):
    return struct.pack(">BII", CREDIT, request_id, count)


def seconds(text):
    """A duration as the Java options write it: 1500ms, 2s, 1m."""
    if text.endswith("ms"):
        return int(text[:-2]) / 1000.0
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600}[text[-1]]


class Peer:
    """One raw connection to the server, past the shared-secret handshake if the endpoint names a secret."""

    def __init__(self, endpoint, authenticate=True):
        self.endpoint = endpoint
        self.settings = ipc.options(endpoint)
        self.sock = ipc.connect(endpoint)
        self.sock.settimeout(WAIT)
        self.buffer = b""
        secret = ipc.read_secret(self.settings)
        if authenticate and secret is not None:
            ipc.prove_secret(self.sock, secret)

    def send(self, data):
        self.sock.sendall(data)

    def send_split(self, data, offset):
        """Sends data in two writes cut at offset, far enough apart in time that the server reads them apart."""
        self.sock.sendall(data[:offset])
        time.sleep(0.002)
        self.sock.sendall(data[offset:])

    def has_bytes(self, seconds):
        """Whether the server sends anything (a frame, or its end) within seconds."""
        self.sock.settimeout(seconds)
        try:
            self._fill(len(self.buffer) + 1)
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(WAIT)

    def _fill(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def read(self):
        """The next frame's body, or None at a clean end of stream between frames."""
        if not self._fill(4):
            expect(not self.buffer, "the stream ended inside a frame header")
            return None
        (length,) = struct.unpack(">I", self.buffer[:4])
        expect(self._fill(4 + length), "the stream ended inside a frame of %d bytes" % length)
        body, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
        expect(length >= 1, "the server sent an empty frame")
        return body

    def read_expecting(self, kind):
        body = self.read()
        expect(body is not None, "the connection ended where a frame of type %d was due" % kind)
        expect(body[0] == kind, "expected a frame of type %d, got %s" % (kind, describe(body)))
        return body

    def hello(self, version=2):
        """Says HELLO and returns the WELCOME's (version, max payload, max in flight)."""
        self.send(frame(hello_body(version)))
        return welcome_fields(self.read_expecting(WELCOME))

    def until_end(self):
        """Every frame until the server's clean end of stream; a reset fails the check."""
        frames = []
        try:
            while True:
                body = self.read()
                if body is None:
                    return frames
                frames.append(body)
        except (ConnectionResetError, BrokenPipeError) as e:
            raise Failed("the connection was reset instead of closed (after %s): %s"
                         % ([describe(f) for f in frames], e))

    def expect_error_then_end(self, code, request_id=0):
        """The server answers with one ERROR of code for request_id and then ends the connection; returns it."""
        frames = self.until_end()
        errors = [f for f in frames if f[0] == ERROR]
        expect(errors, "no ERROR before the end (frames: %s)" % [describe(f) for f in frames])
        last = error_fields(errors[-1])
        expect(last[:2] == (request_id, code),
               "expected ERROR %d for id %d, got %s" % (code, request_id, describe(errors[-1])))
        expect(frames[-1][0] == ERROR, "frames after the ERROR: %s" % [describe(f) for f in frames])
        return last

    def call(self, request_id, payload):
        self.send(frame(request_body(request_id, payload)))
        return self.read()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ssl_errors():
    """The ssl module's error for a write to a closed TLS connection (OSError covers it; named for clarity)."""
    import ssl
    return ssl.SSLError


def welcome_fields(body):
    (version,) = struct.unpack(">H", body[1:3])
    expect(len(body) == (11 if version >= 2 else 7), "a version %d WELCOME of %d bytes" % (version, len(body)))
    max_payload = struct.unpack(">I", body[3:7])[0]
    max_in_flight = struct.unpack(">I", body[7:11])[0] if version >= 2 else None
    return version, max_payload, max_in_flight


def error_fields(body):
    expect(len(body) >= 7, "an ERROR of %d bytes" % len(body))
    request_id, code = struct.unpack(">IH", body[1:7])
    return request_id, code, body[7:].decode("utf-8")


def describe(body):
    if body is None:
        return "end of stream"
    if body[0] == ERROR and len(body) >= 7:
        return "ERROR(id=%d, code=%d, %r)" % error_fields(body)
    if body[0] in (RESPONSE, REQUEST, STREAM) and len(body) >= 5:
        return "%s(id=%d, %d bytes)" % ({RESPONSE: "RESPONSE", REQUEST: "REQUEST", STREAM: "STREAM"}[body[0]],
                                        struct.unpack(">I", body[1:5])[0], len(body) - 5)
    return "type %d (%d bytes)" % (body[0], len(body))


def response_of(body, request_id):
    expect(body is not None and body[0] == RESPONSE, "expected a RESPONSE to %d, got %s" % (request_id, describe(body)))
    expect(struct.unpack(">I", body[1:5])[0] == request_id, "a reply to the wrong id: %s" % describe(body))
    return body[5:]


def welcomed(endpoint, version=2):
    peer = Peer(endpoint)
    fields = peer.hello(version)
    return peer, fields


def still_serving(endpoint, text=b"still serving"):
    """One request on a new connection, answered."""
    peer, _ = welcomed(endpoint)
    try:
        expect(response_of(peer.call(1, text), 1) == text, "a wrong echo")
    finally:
        peer.close()


# ---- framing -------------------------------------------------------------------------------------------------------

@check
def frame_split_at_every_offset(endpoint):
    """F1: a frame is read whole however its bytes are split."""
    stream = frame(hello_body()) + frame(request_body(7, b"split"))
    for offset in range(1, len(stream)):
        peer = Peer(endpoint)
        try:
            peer.send_split(stream, offset)
            peer.read_expecting(WELCOME)
            expect(response_of(peer.read(), 7) == b"split", "a wrong echo for a split at %d" % offset)
        finally:
            peer.close()


@check
def frames_coalesced(endpoint):
    """F2: frames that arrive in one write are each read."""
    peer = Peer(endpoint)
    try:
        count = 8  # at most the in-flight limit the conformance server's WELCOME states
        stream = frame(hello_body()) + b"".join(frame(request_body(i, b"c%d" % i)) for i in range(1, count + 1))
        peer.send(stream)
        peer.read_expecting(WELCOME)
        seen = {}
        for _ in range(count):
            body = peer.read()
            request_id = struct.unpack(">I", body[1:5])[0]
            seen[request_id] = response_of(body, request_id)
        expect(seen == {i: b"c%d" % i for i in range(1, count + 1)}, "replies do not match requests")
    finally:
        peer.close()
    # The start of a frame coalesced with the end of the one before, the rest later, at every offset.
    first, second = frame(request_body(1, b"first")), frame(request_body(2, b"second"))
    for offset in range(1, len(second)):
        peer, _ = welcomed(endpoint)
        try:
            peer.send(first + second[:offset])
            time.sleep(0.002)
            peer.send(second[offset:])
            replies = {}
            for _ in range(2):  # in either order: requests in flight are answered as they finish
                body = peer.read()
                request_id = struct.unpack(">I", body[1:5])[0]
                replies[request_id] = response_of(body, request_id)
            expect(replies == {1: b"first", 2: b"second"}, "both answered, cut at %d: %r" % (offset, replies))
        finally:
            peer.close()


@check
def payload_limit_is_exact(endpoint):
    """F3: a payload of exactly the WELCOME's limit is taken; one byte more is FRAME_TOO_LARGE, then the end."""
    peer, (_, limit, _) = welcomed(endpoint)
    try:
        payload = bytes(random.getrandbits(8) for _ in range(limit))
        expect(response_of(peer.call(1, payload), 1) == payload, "the largest payload came back changed")
        peer.send(frame(request_body(2, payload + b"x")))
        peer.expect_error_then_end(FRAME_TOO_LARGE)
    finally:
        peer.close()
    still_serving(endpoint)


@check
def length_with_top_bit_set(endpoint):
    """F4: a length of 2^31 or more is FRAME_TOO_LARGE, then the end; nothing is read for it."""
    for length in (0x80000000, 0xFFFFFFFF, 0x7FFFFFFF):
        peer, _ = welcomed(endpoint)
        try:
            peer.send(struct.pack(">I", length) + b"\x03\x00\x00\x00\x01")
            peer.expect_error_then_end(FRAME_TOO_LARGE)
        finally:
            peer.close()
    still_serving(endpoint)


@check
def malformed_frames(endpoint):
    """F5: an empty frame, a REQUEST too short for its id, a frame of another type: PROTOCOL_ERROR, then the end."""
    for bad in (b"", b"\x03\x00\x00", bytes([WELCOME]) + b"\x00" * 10, bytes([99, 0, 0, 0, 1])):
        peer, _ = welcomed(endpoint)
        try:
            peer.send(frame(bad))
            peer.expect_error_then_end(PROTOCOL_ERROR)
        finally:
            peer.close()
    still_serving(endpoint)


@check
def replies_before_the_error(endpoint):
    """F6: requests taken before a bad frame are answered before the ERROR that ends the connection."""
    peer, _ = welcomed(endpoint)
    try:
        peer.send(frame(request_body(1, b"sleep:300:slow")) + frame(request_body(2, b"fast")) + frame(bytes([99])))
        frames = peer.until_end()
        kinds = [describe(f) for f in frames]
        expect(len(frames) == 3, "expected two replies and an ERROR: %s" % kinds)
        expect(sorted(struct.unpack(">I", f[1:5])[0] for f in frames[:2]) == [1, 2], "replies: %s" % kinds)
        expect(error_fields(frames[2])[:2] == (0, PROTOCOL_ERROR), "the last frame: %s" % kinds)
    finally:
        peer.close()


# ---- hello ---------------------------------------------------------------------------------------------------------

@check
def hello_and_welcome(endpoint):
    """H1: HELLO version 2 is answered WELCOME version 2 with the payload and in-flight limits."""
    peer = Peer(endpoint)
    try:
        peer.send(bytes.fromhex("00000006 01 495043 0002"))
        body = peer.read_expecting(WELCOME)
        version, max_payload, max_in_flight = welcome_fields(body)
        expect(version == 2, "WELCOME version %d" % version)
        expect(max_payload >= 1 and max_in_flight >= 1, "limits %d, %d" % (max_payload, max_in_flight))
        settings = ipc.options(endpoint)
        if "maxFrameSize" in settings:
            expect(max_payload == int(settings["maxFrameSize"]), "max payload %d" % max_payload)
        if "maxInFlight" in settings:
            expect(max_in_flight == int(settings["maxInFlight"]), "max in flight %d" % max_in_flight)
    finally:
        peer.close()


@check
def hello_versions(endpoint):
    """V1: a client of version 1 or 2 is spoken to in its version, a newer one in the server's; version 0 is
    refused."""
    peer, (version, _, in_flight) = welcomed(endpoint, 1)
    expect(version == 1 and in_flight is None, "version 1 WELCOME: %d" % version)
    expect(response_of(peer.call(5, b"v1"), 5) == b"v1", "version 1 echo")
    peer.close()
    peer, (version, _, _) = welcomed(endpoint, 2)
    expect(version == 2, "the answer to version 2 is %d" % version)
    expect(response_of(peer.call(6, b"v2"), 6) == b"v2", "version 2 echo (a REQUEST without timeout and window)")
    peer.close()
    peer, (version, _, _) = welcomed(endpoint, 0xFFFF)
    expect(version == 3, "the answer to version 65535 is %d" % version)
    peer.close()
    peer = Peer(endpoint)
    try:
        peer.send(frame(hello_body(0)))
        message = peer.expect_error_then_end(UNSUPPORTED_VERSION)[2]
        expect("1 to 3" in message, "the message names the versions spoken: %r" % message)
    finally:
        peer.close()


@check
def hello_malformed(endpoint):
    """H3: a HELLO of another length, type or magic is PROTOCOL_ERROR, then the end."""
    bad = [struct.pack(">I", 5) + hello_body()[:5],  # too short
           struct.pack(">I", 65) + hello_body() + b"\x00" * 59,  # too long
           frame(struct.pack(">B3sH", REQUEST, b"IPC", 2)),  # another type
           frame(struct.pack(">B3sH", HELLO, b"IPX", 2)),  # another magic
           b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]
    for data in bad:
        peer = Peer(endpoint)
        try:
            peer.send(data)
            peer.expect_error_then_end(PROTOCOL_ERROR)
        finally:
            peer.close()


@check
def hello_with_extra_bytes(endpoint):
    """H4: bytes after the HELLO's version (up to 64 in all) are ignored."""
    peer = Peer(endpoint)
    try:
        peer.send(frame(hello_body(2, b"\xaa" * 58)))
        expect(welcome_fields(peer.read_expecting(WELCOME))[0] == 2, "version")
        expect(response_of(peer.call(1, b"x"), 1) == b"x", "echo")
    finally:
        peer.close()


@check
def requests_before_the_welcome(endpoint):
    """H5: requests may follow the HELLO at once, in the same write."""
    peer = Peer(endpoint)
    try:
        peer.send(frame(hello_body()) + frame(request_body(3, b"eager")))
        peer.read_expecting(WELCOME)
        expect(response_of(peer.read(), 3) == b"eager", "echo")
    finally:
        peer.close()


@check
def hello_timeout(endpoint):
    """H6: no HELLO within handshakeTimeout is TIMEOUT, then the end."""
    limit = seconds(ipc.options(endpoint).get("handshakeTimeout", "10s"))
    peer = Peer(endpoint)
    try:
        started = time.monotonic()
        peer.send(frame(hello_body())[:3])
        peer.expect_error_then_end(TIMEOUT)
        expect(time.monotonic() - started >= limit * 0.9, "timed out early")
    finally:
        peer.close()


# ---- requests ------------------------------------------------------------------------------------------------------

@check
def pipelined_requests_answered_by_id(endpoint):
    """R1: many requests in flight, of random sizes, each answered once, by id, in any order."""
    peer, (_, limit, in_flight) = welcomed(endpoint)
    try:
        rng = random.Random(7)
        count = 500
        payloads = {i: bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, min(limit, 2000))))
                    for i in range(1, count + 1)}
        sent = 0
        answered = {}
        while len(answered) < count:
            while sent < count and sent - len(answered) < in_flight:
                sent += 1
                peer.send(frame(request_body(sent, payloads[sent])))
            body = peer.read()
            request_id = struct.unpack(">I", body[1:5])[0]
            expect(request_id not in answered, "request %d answered twice" % request_id)
            answered[request_id] = response_of(body, request_id)
        expect(answered == payloads, "replies differ from requests")
    finally:
        peer.close()


@check
def request_id_zero(endpoint):
    """R2: request id 0 is PROTOCOL_ERROR, then the end."""
    peer, _ = welcomed(endpoint)
    try:
        peer.send(frame(request_body(0, b"zero")))
        peer.expect_error_then_end(PROTOCOL_ERROR)
    finally:
        peer.close()


@check
def duplicate_id_in_flight(endpoint):
    """R3: an id still in flight is PROTOCOL_ERROR, after the reply to the first; an answered id may be reused."""
    peer, _ = welcomed(endpoint)
    try:
        expect(response_of(peer.call(9, b"once"), 9) == b"once", "echo")
        expect(response_of(peer.call(9, b"again"), 9) == b"again", "an answered id reused")
        peer.send(frame(request_body(9, b"sleep:300:first")) + frame(request_body(9, b"second")))
        frames = peer.until_end()
        expect([describe(f) for f in frames][:1] == ["RESPONSE(id=9, 5 bytes)"], "first: %s" % frames)
        expect(len(frames) == 2 and error_fields(frames[1])[:2] == (0, PROTOCOL_ERROR),
               "then PROTOCOL_ERROR: %s" % [describe(f) for f in frames])
    finally:
        peer.close()


@check
def in_flight_limit(endpoint):
    """R4: a request over the WELCOME's in-flight limit is TOO_MANY_REQUESTS for that id; the connection goes on."""
    peer, (_, _, in_flight) = welcomed(endpoint)
    expect_in_flight_limit(peer, in_flight)


@check
def in_flight_limit_v1(endpoint):
    """R4: a version 1 client, whose WELCOME states no limit, meets the same limit on requests in flight."""
    probe, (_, _, in_flight) = welcomed(endpoint)
    probe.close()
    peer, _ = welcomed(endpoint, 1)
    expect_in_flight_limit(peer, in_flight)


def expect_in_flight_limit(peer, in_flight):
    """Sends one request more than in_flight at once: that one is refused first, the rest answered; then closes."""
    try:
        peer.send(b"".join(frame(request_body(i, b"sleep:500:held")) for i in range(1, in_flight + 1)))
        peer.send(frame(request_body(in_flight + 1, b"one too many")))
        first = peer.read()
        expect(first[0] == ERROR and error_fields(first)[:2] == (in_flight + 1, TOO_MANY_REQUESTS),
               "expected TOO_MANY_REQUESTS for %d first, got %s" % (in_flight + 1, describe(first)))
        for _ in range(in_flight):
            expect(peer.read()[0] == RESPONSE, "the held requests are answered")
        expect(response_of(peer.call(1, b"after"), 1) == b"after", "the connection goes on")
    finally:
        peer.close()


@check
def memory_budget(endpoint):
    """R7: a large request that finds the server's memory budget full is read, dropped and answered TOO_MANY_REQUESTS
    for its id; the connection goes on."""
    budget = int(ipc.options(endpoint)["maxBufferedBytes"])
    peer, (_, limit, _) = welcomed(endpoint)
    try:
        size = budget + budget // 2
        expect(size <= limit, "the profile lets a request over the budget through the frame limit")
        body = peer.call(6, b"\x00" * size)
        expect(body[0] == ERROR and error_fields(body)[:2] == (6, TOO_MANY_REQUESTS), describe(body))
        expect("maxBufferedBytes" in error_fields(body)[2], "the message names the budget: %r" % error_fields(body)[2])
        expect(response_of(peer.call(7, b"small"), 7) == b"small", "the connection goes on")
    finally:
        peer.close()


@check
def handler_failure(endpoint):
    """R5: a request whose handler fails is INTERNAL for its id, naming an incident only; the connection goes on."""
    peer, _ = welcomed(endpoint)
    try:
        body = peer.call(4, b"boom")
        expect(body[0] == ERROR and error_fields(body)[:2] == (4, INTERNAL), describe(body))
        message = error_fields(body)[2]
        expect("incident" in message and "purpose" not in message and "Exception" not in message,
               "the message names an incident, not the cause: %r" % message)
        expect(response_of(peer.call(5, b"fine"), 5) == b"fine", "the connection goes on")
    finally:
        peer.close()


@check
def application_error(endpoint):
    """R8: an application's error reaches the client with its own number (1000 to 65535) and message, as they are."""
    peer, _ = welcomed(endpoint)
    try:
        body = peer.call(6, "app:4242:no key été".encode())
        expect(body[0] == ERROR, describe(body))
        expect(error_fields(body) == (6, 4242, "no key été"), "the fields: %r" % (error_fields(body),))
        expect(response_of(peer.call(7, b"fine"), 7) == b"fine", "the connection goes on")
    finally:
        peer.close()


@check
def error_message_bound(endpoint):
    """E1: an ERROR's message is at most 1,024 bytes of UTF-8, cut at a whole character."""
    peer, _ = welcomed(endpoint)
    try:
        long_message = "é" * 1500  # 3,000 bytes, two to a character: a cut at 1,024 falls inside none
        body = peer.call(6, ("app:4242:x" + long_message).encode())
        expect(body[0] == ERROR, describe(body))
        request_id, code, message = error_fields(body)
        expect((request_id, code) == (6, 4242), "the fields: %r" % ((request_id, code),))
        size = len(message.encode())
        expect(size <= 1024, "the message is %d bytes" % size)
        expect(size >= 1020 and ("x" + long_message).startswith(message), "cut at the end, whole: %r" % message[-8:])
    finally:
        peer.close()


@check
def half_close(endpoint):
    """R6: after the client ends its output, its requests are still answered, then the server ends the stream."""
    if endpoint.startswith("tls://"):
        # SSLSocket.shutdown() drops the TLS layer and reads raw records after it; the Java suite half-closes TLS.
        raise Skipped("Python's ssl module cannot end its side of a TLS stream and keep reading")
    peer, _ = welcomed(endpoint)
    try:
        peer.send(b"".join(frame(request_body(i, b"sleep:50:bye")) for i in range(1, 6)))
        peer.sock.shutdown(socket.SHUT_WR)
        frames = peer.until_end()
        expect(sorted(struct.unpack(">I", f[1:5])[0] for f in frames if f[0] == RESPONSE) == [1, 2, 3, 4, 5],
               "replies: %s" % [describe(f) for f in frames])
    finally:
        peer.close()


# ---- version 3: deadlines, cancellation, streams -------------------------------------------------------------------

def welcomed_v3(endpoint):
    peer, fields = welcomed(endpoint, 3)
    expect(fields[0] == 3, "the server answered version 3 with version %d" % fields[0])
    return peer, fields


def expect_cancelled(body, request_id):
    expect(body is not None and body[0] == ERROR and error_fields(body)[:2] == (request_id, CANCELLED),
           "expected ERROR CANCELLED for %d, got %s" % (request_id, describe(body)))
    return error_fields(body)[2]


@check
def deadline_reaches_the_handler(endpoint):
    """D1: a version 3 REQUEST's timeout reaches the handler as its deadline; a timeout of 0 is none."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(1, b"deadline", timeout_ms=5000)))
        left = int(response_of(peer.read(), 1))
        expect(0 < left <= 5000, "the handler saw %d ms left of 5000" % left)
        peer.send(frame(request_v3(2, b"deadline", timeout_ms=0)))
        expect(response_of(peer.read(), 2) == b"none", "no deadline for a timeout of 0")
    finally:
        peer.close()


@check
def deadline_passed(endpoint):
    """D2: a request whose reply is not ready by its deadline is answered CANCELLED; the connection goes on."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(3, b"sleep:600:late", timeout_ms=150)))
        message = expect_cancelled(peer.read(), 3)
        expect("deadline" in message, "the message names the deadline: %r" % message)
        peer.send(frame(request_v3(4, b"sleep:10:in time", timeout_ms=10000)))
        expect(response_of(peer.read(), 4) == b"in time", "a request within its deadline is answered")
    finally:
        peer.close()


@check
def cancel(endpoint):
    """X1: CANCEL marks a request in flight cancelled, which its handler sees; it is answered CANCELLED. A CANCEL for
    an id not in flight changes nothing."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(9, b"hold:60000")))
        expect(not peer.has_bytes(0.2), "the held request is not answered before its CANCEL")
        started = time.monotonic()
        peer.send(frame(cancel_body(9)) + frame(cancel_body(77)))
        message = expect_cancelled(peer.read(), 9)
        expect(time.monotonic() - started < 10, "the handler saw the cancel at once")
        expect("cancel" in message, "the message says why: %r" % message)
        peer.send(frame(request_v3(9, b"again")))  # the id is free once answered
        expect(response_of(peer.read(), 9) == b"again", "the connection goes on, nothing answered for id 77")
    finally:
        peer.close()


@check
def stream_with_credit(endpoint):
    """W1, W2: a stream is STREAM frames, no more than the window and the CREDITs allow, then an empty RESPONSE."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(5, b"stream:5:m", window=2)))
        first = [peer.read_expecting(STREAM) for _ in range(2)]
        expect([f[5:] for f in first] == [b"m 1", b"m 2"], "the first two: %s" % [f[5:] for f in first])
        expect(not peer.has_bytes(0.3), "nothing beyond the window before a CREDIT")
        peer.send(frame(credit_body(5, 3)) + frame(credit_body(78, 5)))
        rest = [peer.read() for _ in range(4)]
        expect([f[0] for f in rest] == [STREAM, STREAM, STREAM, RESPONSE], "then: %s" % [describe(f) for f in rest])
        expect([f[5:] for f in rest[:3]] == [b"m 3", b"m 4", b"m 5"], "in order: %s" % [f[5:] for f in rest])
        expect(response_of(rest[3], 5) == b"", "the stream ends with an empty RESPONSE")
    finally:
        peer.close()


@check
def stream_limit(endpoint):
    """W4: past maxStreamsPerConnection requests of window > 0 in flight, another is answered TOO_MANY_REQUESTS and
    did not run; one of window 0 still runs, and a place frees once a stream ends."""
    limit = int(ipc.options(endpoint)["maxStreamsPerConnection"])
    peer, _ = welcomed_v3(endpoint)
    try:
        for request_id in range(1, limit + 1):
            peer.send(frame(request_v3(request_id, b"hold:60000", window=4)))
        peer.send(frame(request_v3(limit + 1, b"hold:60000", window=4)))
        refused = peer.read()
        expect(refused is not None and refused[0] == ERROR, "the one past the limit: %s" % describe(refused))
        request_id, code, message = error_fields(refused)
        expect((request_id, code) == (limit + 1, TOO_MANY_REQUESTS), "refused: %s" % describe(refused))
        expect("maxStreamsPerConnection" in message, "the message names the limit: %r" % message)
        peer.send(frame(request_v3(90, b"plain")))
        expect(response_of(peer.read(), 90) == b"plain", "a request of window 0 still runs")
        peer.send(frame(cancel_body(1)))
        expect_cancelled(peer.read(), 1)
        peer.send(frame(request_v3(91, b"stream:1:again", window=4)))
        expect(peer.read_expecting(STREAM)[5:] == b"again 1", "a place again once a stream ended")
        expect(response_of(peer.read(), 91) == b"", "and its end")
        for request_id in range(2, limit + 1):  # the rest held, ended before the close
            peer.send(frame(cancel_body(request_id)))
            expect_cancelled(peer.read(), request_id)
    finally:
        peer.close()


@check
def stream_needs_a_window(endpoint):
    """W3: a request of window 0 gets its one answer and no STREAM frame, whatever its handler does."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(6, b"stream:3:m", window=0)) + frame(request_v3(7, b"after")))
        frames = [peer.read(), peer.read()]
        expect(all(f is not None and f[0] in (RESPONSE, ERROR) for f in frames),
               "one answer each, no STREAM: %s" % [describe(f) for f in frames])
        expect(sorted(struct.unpack(">I", f[1:5])[0] for f in frames) == [6, 7], [describe(f) for f in frames])
    finally:
        peer.close()


@check
def stream_cancelled(endpoint):
    """X1, W2: a stream cancelled by its client ends with ERROR CANCELLED; the connection goes on."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(8, b"stream-forever", window=1)))
        expect(peer.read_expecting(STREAM)[5:] == b"tick 1", "the first message")
        peer.send(frame(cancel_body(8)))
        expect_cancelled(peer.read(), 8)
        peer.send(frame(request_v3(10, b"still here")))
        expect(response_of(peer.read(), 10) == b"still here", "the connection goes on")
    finally:
        peer.close()


@check
def streams_answered_before_the_error(endpoint):
    """F6: an ERROR that ends the connection comes after the streams still open, each ended CANCELLED."""
    peer, _ = welcomed_v3(endpoint)
    try:
        peer.send(frame(request_v3(8, b"stream-forever", window=1)))
        expect(peer.read_expecting(STREAM)[5:] == b"tick 1", "the first message")
        started = time.monotonic()
        peer.send(frame(request_v3(0, b"id zero")))
        message = expect_cancelled(peer.read(), 8)
        expect("request id 0" in message, "the stream's end names why the connection ends: %r" % message)
        peer.expect_error_then_end(PROTOCOL_ERROR)
        expect(time.monotonic() - started < 5, "at once, not after the shutdown timeout")
    finally:
        peer.close()


@check
def malformed_frames_v3(endpoint):
    """F5: in version 3 a REQUEST shorter than 13 bytes, a CANCEL not of 5 or a CREDIT not of 9 is PROTOCOL_ERROR,
    then the end; so are CANCEL and CREDIT in version 2."""
    for version, bad in ((3, struct.pack(">BII", REQUEST, 1, 0)), (3, cancel_body(1) + b"x"), (3, credit_body(1, 1)[:8]),
                         (2, cancel_body(1)), (2, credit_body(1, 1))):
        peer, _ = welcomed(endpoint, version)
        try:
            peer.send(frame(bad))
            peer.expect_error_then_end(PROTOCOL_ERROR)
        finally:
            peer.close()
    peer, (_, limit, _) = welcomed_v3(endpoint)
    try:
        payload = b"y" * limit
        peer.send(frame(request_v3(1, payload)))
        expect(response_of(peer.read(), 1) == payload, "a version 3 payload of exactly the limit is taken")
        peer.send(frame(request_v3(2, payload + b"z")))
        peer.expect_error_then_end(FRAME_TOO_LARGE)
    finally:
        peer.close()


# ---- timeouts ------------------------------------------------------------------------------------------------------

@check
def frame_timeout(endpoint):
    """T1: half a frame for frameTimeout is TIMEOUT, then the end, also when it came in the HELLO's own write."""
    limit = seconds(ipc.options(endpoint).get("frameTimeout", "30s"))
    for with_hello in (False, True):
        peer = Peer(endpoint)
        try:
            half = frame(request_body(1, b"never finished"))[:8]
            if with_hello:
                peer.send(frame(hello_body()) + half)
                peer.read_expecting(WELCOME)
            else:
                peer.hello()
                peer.send(half)
            started = time.monotonic()
            message = peer.expect_error_then_end(TIMEOUT)[2]
            expect("frame" in message, "the message names the frame timeout: %r" % message)
            expect(time.monotonic() - started >= limit * 0.9, "timed out early")
        finally:
            peer.close()


@check
def idle_timeout(endpoint):
    """T2: a connection with nothing in flight and no bytes for idleTimeout is TIMEOUT, then the end."""
    peer, _ = welcomed(endpoint)
    try:
        expect(response_of(peer.call(1, b"then silence"), 1) == b"then silence", "echo")
        message = peer.expect_error_then_end(TIMEOUT)[2]
        expect("idle" in message, "the message names the idle timeout: %r" % message)
    finally:
        peer.close()


# ---- connections ---------------------------------------------------------------------------------------------------

@check
def too_many_connections(endpoint):
    """C1: a connection over maxConnections gets TOO_MANY_CONNECTIONS as its first frame, then the end."""
    limit = int(ipc.options(endpoint)["maxConnections"])
    held = [welcomed(endpoint)[0] for _ in range(limit)]
    try:
        peer = Peer(endpoint)
        try:
            peer.send(frame(hello_body()))
            body = peer.read()
            expect(body is not None and body[0] == ERROR and error_fields(body)[:2] == (0, TOO_MANY_CONNECTIONS),
                   "the first frame: %s" % describe(body))
            expect(peer.until_end() == [], "frames after the refusal")
        finally:
            peer.close()
    finally:
        for peer in held:
            peer.close()


@check
def idle_connections_give_way(endpoint):
    """C4: past maxConnections, the connection idle the longest gives way to a newcomer that says its HELLO."""
    limit = int(ipc.options(endpoint)["maxConnections"])
    held = []
    newcomer = None
    try:
        deadline = time.time() + 10
        while len(held) < limit:  # the connections of an earlier check may still be closing on the server
            peer = Peer(endpoint)
            peer.send(frame(hello_body()))
            body = peer.read()
            if body is not None and body[0] == WELCOME:
                held.append(peer)
                continue
            peer.close()
            expect(time.time() < deadline, "no place for %d connections in 10 s: %s" % (limit, describe(body)))
            time.sleep(0.1)
        time.sleep(2.5)  # idle: nothing in flight and nothing sent, for more than two seconds
        newcomer, _ = welcomed(endpoint)
        ended, deadline = [], time.time() + 5
        while not ended and time.time() < deadline:
            ended = [peer for peer in held if peer.has_bytes(0.05)]
        expect(len(ended) == 1, "%d of the %d idle connections ended, not one" % (len(ended), limit))
        message = ended[0].expect_error_then_end(TOO_MANY_CONNECTIONS)[2]
        expect("gave way" in message, "the message says it gave way: %r" % message)
        expect(response_of(newcomer.call(1, b"in"), 1) == b"in", "the newcomer is served")
    finally:
        for peer in held + ([newcomer] if newcomer else []):
            peer.close()


@check
def access_refused(endpoint):
    """C2: a peer the access policy does not permit gets UNAUTHORIZED, then the end."""
    peer = Peer(endpoint)
    try:
        peer.send(frame(hello_body()))
        message = peer.expect_error_then_end(UNAUTHORIZED)[2]
        expect("access policy" in message, "the message names the access policy: %r" % message)
    finally:
        peer.close()


@check
def unfinished_connections_give_way(endpoint):
    """C3: past maxHandshakes unfinished connections, one of them gives way; a client that says HELLO is served."""
    settings = ipc.options(endpoint)
    limit = int(settings["maxHandshakes"])
    secret = ipc.read_secret(settings)
    silent = []
    try:
        for _ in range(limit):
            silent.append(Peer(endpoint, authenticate=False))  # connected (past TLS), no secret proof, no HELLO
        still_serving(endpoint)  # arrives past the limit, says HELLO at once, and is served
        ended = None
        deadline = time.monotonic() + WAIT
        while ended is None and time.monotonic() < deadline:
            for peer in silent:
                if peer.has_bytes(0.05):  # not select(): TLS 1.3 sends session tickets, which are no frames
                    ended = peer
                    break
        expect(ended is not None, "no unfinished connection gave way")
        message = ended.expect_error_then_end(TOO_MANY_CONNECTIONS)[2]
        expect("maxHandshakes" in message, "the message names the limit: %r" % message)
        for peer in silent:
            if peer is not ended:
                if secret is not None:
                    ipc.prove_secret(peer.sock, secret)
                expect(peer.hello()[0] == 2, "an unfinished connection that did not give way is welcomed")
    finally:
        for peer in silent:
            peer.close()


# ---- shared secret -------------------------------------------------------------------------------------------------

def auth_hello(version=1, nonce=None):
    return struct.pack(">B3sB", AUTH_HELLO, b"IPC", version) + (nonce or os.urandom(32))


@check
def auth_accepted(endpoint):
    """A1: the four-frame handshake with the right secret, then HELLO and WELCOME."""
    still_serving(endpoint, b"proven")  # Peer proves the secret the endpoint names


@check
def auth_refusals(endpoint):
    """A2: a wrong proof or a plain HELLO is UNAUTHORIZED; a malformed or over-long auth frame is PROTOCOL_ERROR;
    another auth version is UNSUPPORTED_VERSION; each then the end."""
    cases = [
        ("a plain HELLO", frame(hello_body()), UNAUTHORIZED),
        ("an over-long AUTH_HELLO", struct.pack(">I", 257) + auth_hello() + b"\x00" * 220, PROTOCOL_ERROR),
        ("a short AUTH_HELLO", frame(auth_hello()[:20]), PROTOCOL_ERROR),
        ("auth version 2", frame(auth_hello(2)), UNSUPPORTED_VERSION),
    ]
    for what, data, code in cases:
        peer = Peer(endpoint, authenticate=False)
        try:
            peer.send(data)
            peer.expect_error_then_end(code)
        except Failed as e:
            raise Failed("%s: %s" % (what, e))
        finally:
            peer.close()
    peer = Peer(endpoint, authenticate=False)
    try:
        peer.send(frame(auth_hello()))
        expect(peer.read_expecting(AUTH_CHALLENGE) is not None, "challenge")
        peer.send(frame(bytes([AUTH_PROOF]) + b"\x00" * 32))
        peer.expect_error_then_end(UNAUTHORIZED)
    finally:
        peer.close()


@check
def auth_timeout(endpoint):
    """A4: a client that stops in the middle of the shared-secret handshake gets TIMEOUT at handshakeTimeout."""
    limit = seconds(ipc.options(endpoint).get("handshakeTimeout", "5s"))
    peer = Peer(endpoint, authenticate=False)
    try:
        started = time.monotonic()
        peer.send(frame(auth_hello()))
        peer.read_expecting(AUTH_CHALLENGE)
        peer.expect_error_then_end(TIMEOUT)
        expect(time.monotonic() - started >= limit * 0.9, "timed out early")
    finally:
        peer.close()


@check
def auth_without_secret(endpoint):
    """A3: a server without a secret answers AUTH_HELLO with PROTOCOL_ERROR, then the end."""
    peer = Peer(endpoint, authenticate=False)
    try:
        peer.send(frame(auth_hello()))
        message = peer.expect_error_then_end(PROTOCOL_ERROR)[2]
        expect("secret" in message, "the message says the server has no secret: %r" % message)
    finally:
        peer.close()


# ---- shutdown ------------------------------------------------------------------------------------------------------

@check
def shutdown(endpoint):
    """S1: at shutdown every connection gets GOAWAY naming the last request taken; every request sent up to it is
    answered, none after it runs (SHUTTING_DOWN or no answer), and the stream then ends cleanly."""
    count = 1000
    busy, _ = welcomed(endpoint)
    idle, _ = welcomed(endpoint)
    old, _ = welcomed(endpoint, 1)
    try:
        order = list(range(1, count + 1))
        random.Random(3).shuffle(order)  # ids need not rise: "up to" is the order sent
        requests = [frame(request_body(i, b"sleep:2:s%d" % i)) for i in order]
        busy.send(b"".join(requests[:100]))
        first = busy.read()
        expect(first[0] == RESPONSE, "a first reply before the shutdown: %s" % describe(first))
        print("SHUTDOWN", flush=True)
        # The rest go out while the server shuts down: some before its GOAWAY, some after.
        sent = 100
        try:
            while sent < count:
                busy.send(b"".join(requests[sent:sent + 50]))
                sent += 50
                time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError, ssl_errors()):
            pass  # the server has closed: what was not sent did not run
        order = order[:sent]
        frames = [first] + busy.until_end()
        goaways = [f for f in frames if f[0] == GOAWAY]
        expect(len(goaways) == 1 and len(goaways[0]) >= 5, "one version 2 GOAWAY: %s" % goaways)
        (last,) = struct.unpack(">I", goaways[0][1:5])
        expect(last in order, "GOAWAY names %d, which was never sent" % last)
        taken = order[:order.index(last) + 1]
        replies, refused = {}, set()
        for body in frames:
            if body[0] in (RESPONSE, ERROR):
                request_id = struct.unpack(">I", body[1:5])[0]
                expect(request_id not in replies and request_id not in refused, "%d answered twice" % request_id)
                if body[0] == RESPONSE:
                    replies[request_id] = body[5:]
                else:
                    expect(error_fields(body)[1] == SHUTTING_DOWN, "unexpected %s" % describe(body))
                    refused.add(request_id)
        expect(set(replies) == set(taken), "%d taken, %d answered; missing %s, extra %s" % (
            len(taken), len(replies), sorted(set(taken) - set(replies))[:10], sorted(set(replies) - set(taken))[:10]))
        expect(all(replies[i] == b"s%d" % i for i in replies), "a reply to the wrong request")
        expect(not refused & set(taken), "a request up to the GOAWAY's was refused")
        print("ANSWERED %s" % ",".join(str(i) for i in sorted(replies)), flush=True)
        print("INFO shutdown: %d sent, the GOAWAY named the %dth, %d answered, %d refused SHUTTING_DOWN, %d unanswered"
              % (len(order), len(taken), len(replies), len(refused), len(order) - len(replies) - len(refused)),
              flush=True)
        frames = idle.until_end()
        expect([f[:5] for f in frames] == [bytes([GOAWAY, 0, 0, 0, 0])], "idle: %s" % [describe(f) for f in frames])
        frames = old.until_end()
        expect(len(frames) == 1 and frames[0][0] == GOAWAY and b"shutting down" in frames[0][1:],
               "version 1: a GOAWAY with only its message: %s" % frames)
    finally:
        for peer in (busy, idle, old):
            peer.close()


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(CHECKS))
        return
    endpoint, names = sys.argv[1], sys.argv[2:]
    for name in names:
        if name not in CHECKS:
            print("FAIL %s: no such check" % name, flush=True)
            continue
        try:
            CHECKS[name](endpoint)
            print("PASS %s" % name, flush=True)
        except Failed as e:
            print("FAIL %s: %s" % (name, e), flush=True)
        except Skipped as e:
            print("SKIP %s: %s" % (name, e), flush=True)
        except (OSError, EOFError, AssertionError, struct.error, TypeError, ValueError) as e:
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
        except SystemExit as e:
            print("FAIL %s: %s" % (name, e), flush=True)


if __name__ == "__main__":
    main()
