"""A shared-memory client written from docs/PROTOCOL.md ("Shared memory") alone, for the tests.

Usage: shm_peer.py SOCKET_PATH MODE [MESSAGE]
  echo      asks for shared memory, sends MESSAGE as one frame once the server's reader sleeps, prints the reply
            frame, then ends its output and waits for the server's end of stream
  overrun   asks, then publishes a write position past the end of its ring
  truncate  asks, publishes a frame, then cuts its memory file to nothing before the server reads it
  declined  asks, and prints the reason of a refusal
  deaf      asks, says HELLO to an IpcServer, then sends REQUEST after REQUEST, each time marking its writer asleep
            afresh (so that the server rings its doorbell once for each), and never reads the socket: the wake-up
            bytes fill it. Prints READY (or STUCK, if the server stopped taking requests), then waits for the close
Exits 0 when the exchange went as the mode expects; prints what it saw.
"""
import mmap
import os
import socket
import struct
import sys
import time

HEADER = 4096
CAPACITY = 4096
TAIL, HEAD, READER_ASLEEP, WRITER_ASLEEP, OUTPUT_ENDED = 64, 128, 192, 256, 320


def main():
    path, mode = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)

    memory = os.memfd_create("ipc-python-peer")
    os.ftruncate(memory, HEADER + CAPACITY)
    mine = mmap.mmap(memory, HEADER + CAPACITY)
    struct.pack_into("=ii", mine, 0, 1, CAPACITY)  # layout 1, ring capacity

    request = b"\xffSHM" + struct.pack(">BBHII", 1, 0, 0, CAPACITY, 0)
    socket.send_fds(sock, [request], [memory])

    answer, fds, _, _ = socket.recv_fds(sock, 16, 1)
    while len(answer) < 16:
        answer += sock.recv(16 - len(answer))
    assert answer[:4] == b"\xffSHM", answer
    version, status, reason_length, their_capacity, _ = struct.unpack(">BBHII", answer[4:])
    assert version == 1, version
    if status == 1:
        reason = b""
        while len(reason) < reason_length:
            reason += sock.recv(reason_length - len(reason))
        print("declined: " + reason.decode())
        return 0 if mode == "declined" else 1
    assert status == 0 and len(fds) == 1, (status, fds)
    theirs = mmap.mmap(fds[0], HEADER + their_capacity, prot=mmap.PROT_READ)
    os.close(fds[0])
    assert struct.unpack_from("=ii", theirs, 0) == (1, their_capacity)

    def get(memory_map, offset):
        return struct.unpack_from("=q", memory_map, offset)[0]

    def put(offset, value):
        struct.pack_into("=q", mine, offset, value)

    def write(data):
        tail = get(mine, TAIL)
        for i, byte in enumerate(data):
            mine[HEADER + (tail + i) % CAPACITY] = byte
        put(TAIL, tail + len(data))  # x86-64 keeps stores in order; other machines need a release fence here
        if get(theirs, READER_ASLEEP) & 1:
            sock.send(b"\x01")

    def read(count):
        head = get(mine, HEAD)
        deadline = time.time() + 10
        while get(theirs, TAIL) - head < count:
            if time.time() > deadline:
                raise TimeoutError("no reply in the server's ring")
            time.sleep(0.001)
        data = bytes(theirs[HEADER + (head + i) % their_capacity] for i in range(count))
        put(HEAD, head + count)
        if get(theirs, WRITER_ASLEEP) & 1:
            sock.send(b"\x01")
        return data

    def await_sleeping_reader():
        deadline = time.time() + 10
        while not get(theirs, READER_ASLEEP) & 1:
            if time.time() > deadline:
                raise TimeoutError("the server's reader never slept")
            time.sleep(0.001)

    def drop_replies():
        put(HEAD, get(theirs, TAIL))  # read and dropped
        if get(theirs, WRITER_ASLEEP) & 1:
            sock.send(b"\x01")

    if mode == "deaf":
        write(struct.pack(">I", 6) + b"\x01IPC\x00\x01")  # HELLO, version 1
        state = "READY"
        for i in range(1, 2001):
            put(WRITER_ASLEEP, 2 * i + 1)  # a fresh mark, before the frame: the server rings once it has read it
            write(struct.pack(">IBI", 5 + 8, 3, i) + b"deafdeaf")  # REQUEST id i
            deadline = time.time() + 5
            while get(theirs, HEAD) != get(mine, TAIL):  # one frame a read, so one wake-up a frame
                if time.time() > deadline:
                    state = "STUCK"
                    break
                drop_replies()
                time.sleep(0.0001)
            if state == "STUCK":
                break
        print(state, flush=True)
        time.sleep(60)  # deaf to the end: the test ends this process
        return 0
    if mode == "echo":
        message = sys.argv[3].encode()
        await_sleeping_reader()  # so that only the wake-up byte can wake it
        write(struct.pack(">I", len(message)) + message)
        length = struct.unpack(">I", read(4))[0]
        print(read(length).decode())
        put(OUTPUT_ENDED, 1)
        if get(theirs, READER_ASLEEP) & 1:
            sock.send(b"\x01")
        deadline = time.time() + 10
        while not get(theirs, OUTPUT_ENDED):
            if time.time() > deadline:
                raise TimeoutError("the server never ended its output")
            time.sleep(0.001)
        return 0
    if mode == "overrun":
        await_sleeping_reader()
        put(TAIL, CAPACITY + 1)
        sock.send(b"\x01")
    elif mode == "truncate":
        await_sleeping_reader()
        mine[HEADER:HEADER + 4] = struct.pack(">I", 100)
        put(TAIL, 4 + 100)  # a frame published, not yet announced...
        os.ftruncate(memory, 0)  # ...and the memory under it gone
        sock.send(b"\x01")
    # Wait for the server to close the connection on its side.
    sock.settimeout(30)
    while sock.recv(64):
        pass
    print("closed by the server")
    return 0


sys.exit(main())
