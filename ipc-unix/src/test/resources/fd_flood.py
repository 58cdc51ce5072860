"""Attaches descriptors to everything it sends, for DescriptorFloodTest.

Usage: fd_flood.py SOCKET_PATH CONNECTIONS MODE
  admitted  says HELLO, then sends three REQUESTs, each with 250 descriptors attached, and reads the three replies
  refused   says HELLO with 250 descriptors attached, then 20 more bytes, each with 250 descriptors
Prints SENT once every connection has done so, then holds the connections open until its standard input closes.
"""
import os
import socket
import struct
import sys

path, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
descriptors = [os.open("/dev/null", os.O_RDONLY) for _ in range(250)]
hello = struct.pack(">I", 6) + b"\x01IPC\x00\x01"
held = []
for _ in range(count):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.settimeout(30 if mode == "admitted" else 1)
    if mode == "admitted":
        socket.send_fds(sock, [hello], descriptors)
        for i in range(1, 4):
            socket.send_fds(sock, [struct.pack(">IBI", 6, 3, i) + b"x"], descriptors)
        replies = 0
        while replies < 3:  # the WELCOME, then a RESPONSE for each request
            header = sock.recv(4, socket.MSG_WAITALL)
            if len(header) < 4:
                raise SystemExit("the server closed an admitted connection")
            frame = sock.recv(struct.unpack(">I", header)[0], socket.MSG_WAITALL)
            replies += frame[0] == 4
    else:
        try:
            socket.send_fds(sock, [hello], descriptors)
            for _ in range(20):  # while the server reads what a refused peer sends, before it closes
                socket.send_fds(sock, [b"\x00"], descriptors)
        except OSError:
            pass  # refused and closed already
    held.append(sock)
print("SENT", flush=True)
sys.stdin.read()
