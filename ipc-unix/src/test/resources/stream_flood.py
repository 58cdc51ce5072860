"""Opens streams until the server refuses them, for StreamFloodTest.

Usage: stream_flood.py SOCKET_PATH CONNECTIONS STREAMS_PER_CONNECTION
Says HELLO (version 3) on each connection, asks for STREAMS_PER_CONNECTION streams ("watch", a window of 16) on each,
and waits for the first answer to each: a STREAM frame (open) or an ERROR (refused). Prints "OPEN n REFUSED m" and the
message of the first refusal, then holds every stream open until its standard input closes.
"""
import socket
import struct
import sys

STREAM, ERROR = 12, 5
path, connections, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def read_frame(sock):
    header = sock.recv(4, socket.MSG_WAITALL)
    if len(header) < 4:
        raise SystemExit("the server closed a connection")
    return sock.recv(struct.unpack(">I", header)[0], socket.MSG_WAITALL)


held, opened, refused, why = [], 0, 0, ""
for _ in range(connections):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.settimeout(60)
    sock.sendall(struct.pack(">I", 6) + b"\x01IPC\x00\x03")
    read_frame(sock)  # the WELCOME
    for i in range(1, per + 1):
        sock.sendall(struct.pack(">IBIII", 13 + 5, 3, i, 60000, 16) + b"watch")
    answered = set()
    while len(answered) < per:
        frame = read_frame(sock)
        request = struct.unpack(">I", frame[1:5])[0]
        if request in answered:
            continue
        answered.add(request)
        if frame[0] == STREAM:
            opened += 1
        elif frame[0] == ERROR:
            refused += 1
            why = why or frame[7:].decode()
    held.append(sock)
print("OPEN %d REFUSED %d" % (opened, refused), flush=True)
print(why, flush=True)
sys.stdin.read()
