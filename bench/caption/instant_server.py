#!/usr/bin/python3
"""A chat-completions endpoint that answers at once (no validation): for
measuring the client. Loopback, ephemeral port printed as "PORT <n>".
A thread per connection reads each body into one reused buffer and drops
it, so the server takes as little as possible of the cores it shares with
the client being measured."""
import json
import socket
import threading

REPLY = json.dumps({
    "id": "x", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A caption of a few words."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5001, "completion_tokens": 6, "total_tokens": 5007},
}).encode()
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(REPLY)) + REPLY


def serve(conn):
    buf = memoryview(bytearray(1 << 20))
    pending = b""
    try:
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, rest = pending.partition(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            left = n - len(rest)
            pending = rest[n:] if left < 0 else b""
            while left > 0:
                got = conn.recv_into(buf, min(left, len(buf)))
                if not got:
                    return
                left -= got
            conn.sendall(ANSWER)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)
    print("PORT", srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
