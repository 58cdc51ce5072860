#!/usr/bin/env python3
"""A client of ipc's protocol (docs/PROTOCOL.md) in Python's standard library alone.

Usage: ipc_client.py ENDPOINT MESSAGE...   Sends each MESSAGE as a request, prints each reply (a streamed reply
                                          one message per line, as they come).
ENDPOINT is unix:/path/to.sock, unix:@abstract-name, tcp://host:port or tls://host:port; its query may
name PEM files (trustCertificates, certificate, privateKey) for TLS and a shared secret (secretFile or
secretEnv), as the Java library reads them.
"""
import hashlib
import hmac
import os
import secrets
import socket
import ssl
import struct
import sys
import urllib.parse

HELLO, WELCOME, REQUEST, RESPONSE, ERROR, GOAWAY = 1, 2, 3, 4, 5, 6
CANCEL, STREAM, CREDIT = 11, 12, 13
TIMEOUT_MS = 30000  # how long this client waits for each answer; the server is told (version 3)
WINDOW = 16  # streamed messages taken ahead of the reader (version 3)


AUTH_HELLO, AUTH_CHALLENGE, AUTH_PROOF, AUTH_OK = 7, 8, 9, 10


def options(endpoint):
    query = endpoint.split("?", 1)[1] if "?" in endpoint else ""
    return {key: value for key, value in urllib.parse.parse_qsl(query)}


def connect(endpoint):
    settings = options(endpoint)
    endpoint = endpoint.split("?", 1)[0]
    if endpoint.startswith("tls://"):
        host, _, port = endpoint[6:].rpartition(":")
        host = host.strip("[]")
        context = ssl.create_default_context(cafile=settings.get("trustCertificates"))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if "certificate" in settings:
            context.load_cert_chain(settings["certificate"], settings["privateKey"])
        raw = socket.create_connection((host, int(port)))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return context.wrap_socket(raw, server_hostname=settings.get("serverName", host))
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


def read_secret(settings):
    if "secretFile" in settings:
        with open(settings["secretFile"], "rb") as file:
            return file.read().rstrip(b"\r\n")
    if "secretEnv" in settings:
        return os.environb[settings["secretEnv"].encode()].rstrip(b"\r\n")
    return None


def prove_secret(sock, secret):
    """The shared-secret handshake of docs/PROTOCOL.md, client side."""
    client_nonce = secrets.token_bytes(32)
    send_frame(sock, struct.pack(">B3sB", AUTH_HELLO, b"IPC", 1) + client_nonce)
    challenge = read_frame(sock)
    if challenge[0] == ERROR:
        sys.exit("refused: " + challenge[7:].decode())
    assert challenge[0] == AUTH_CHALLENGE and len(challenge) == 65, "expected AUTH_CHALLENGE"
    server_nonce, server_proof = challenge[1:33], challenge[33:]
    expected = hmac.new(secret, b"ipc-auth-1 server" + client_nonce + server_nonce, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, server_proof):
        sys.exit("the server does not know the shared secret")
    proof = hmac.new(secret, b"ipc-auth-1 client" + client_nonce + server_nonce, hashlib.sha256).digest()
    send_frame(sock, bytes([AUTH_PROOF]) + proof)
    verdict = read_frame(sock)
    if verdict[0] == ERROR:
        sys.exit("refused: " + verdict[7:].decode())
    assert verdict == bytes([AUTH_OK]), "expected AUTH_OK"


def main():
    sock = connect(sys.argv[1])
    secret = read_secret(options(sys.argv[1]))
    if secret is not None:
        prove_secret(sock, secret)
    send_frame(sock, struct.pack(">B3sH", HELLO, b"IPC", 3))  # the newest version this client speaks
    frame = read_frame(sock)
    if frame[0] == ERROR:
        _, _, code = struct.unpack(">BIH", frame[:7])
        sys.exit("refused (code %d): %s" % (code, frame[7:].decode()))
    assert frame[0] == WELCOME, "expected WELCOME, got type %d" % frame[0]
    (version,) = struct.unpack(">H", frame[1:3])
    assert version in (1, 2, 3), "the server speaks version %d" % version
    sock.settimeout(TIMEOUT_MS / 1000 + 5)
    for request_id, message in enumerate(sys.argv[2:], start=1):
        if version >= 3:  # id, timeout, window: the server may stream, WINDOW messages ahead
            send_frame(sock, struct.pack(">BIII", REQUEST, request_id, TIMEOUT_MS, WINDOW) + message.encode())
        else:
            send_frame(sock, struct.pack(">BI", REQUEST, request_id) + message.encode())
        streamed = False
        while True:
            frame = read_frame(sock)
            kind, reply_id = struct.unpack(">BI", frame[:5])
            assert reply_id == request_id, "reply to %d, expected %d" % (reply_id, request_id)
            if kind == STREAM:  # one message of a stream: print it, and grant room for one more
                print(frame[5:].decode(), flush=True)
                streamed = True
                send_frame(sock, struct.pack(">BII", CREDIT, request_id, 1))
                continue
            if kind == ERROR:
                (code,) = struct.unpack(">H", frame[5:7])
                print("error %d: %s" % (code, frame[7:].decode()))
            elif frame[5:] or not streamed:  # a stream's end is an empty RESPONSE: nothing more to print
                print(frame[5:].decode())
            break
    sock.close()


if __name__ == "__main__":
    main()
