#!/usr/bin/env python3
"""A client of ipc's protocol (docs/PROTOCOL.md) in Python's standard library alone.

Usage: ipc_client.py ENDPOINT MESSAGE...   Sends each MESSAGE as a request, prints each reply.
ENDPOINT is unix:/path/to.sock, unix:@abstract-name or tcp://host:port.
"""
import socket
import struct
import sys

HELLO, WELCOME, REQUEST, RESPONSE, ERROR, GOAWAY = 1, 2, 3, 4, 5, 6


def connect(endpoint):
    endpoint = endpoint.split("?", 1)[0]
    if endpoint.startswith("unix:"):
        path = endpoint[5:]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect("\0" + path[1:] if path.startswith("@") else path)
    elif endpoint.startswith("tcp://"):
        host, _, port = endpoint[6:].rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        raise ValueError("unsupported endpoint: " + endpoint)
    return sock


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def send_frame(sock, body):
    sock.sendall(struct.pack(">I", len(body)) + body)


def read_frame(sock):
    (length,) = struct.unpack(">I", read_exactly(sock, 4))
    return read_exactly(sock, length)


def main():
    sock = connect(sys.argv[1])
    send_frame(sock, struct.pack(">B3sH", HELLO, b"IPC", 1))
    frame = read_frame(sock)
    if frame[0] == ERROR:
        _, _, code = struct.unpack(">BIH", frame[:7])
        sys.exit("refused (code %d): %s" % (code, frame[7:].decode()))
    assert frame[0] == WELCOME, "expected WELCOME, got type %d" % frame[0]
    for request_id, message in enumerate(sys.argv[2:], start=1):
        send_frame(sock, struct.pack(">BI", REQUEST, request_id) + message.encode())
        frame = read_frame(sock)
        kind, reply_id = struct.unpack(">BI", frame[:5])
        assert reply_id == request_id, "reply to %d, expected %d" % (reply_id, request_id)
        if kind == ERROR:
            (code,) = struct.unpack(">H", frame[5:7])
            print("error %d: %s" % (code, frame[7:].decode()))
        else:
            print(frame[5:].decode())
    sock.close()


if __name__ == "__main__":
    main()
