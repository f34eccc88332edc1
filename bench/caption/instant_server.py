#!/usr/bin/python3
"""A chat-completions endpoint that answers at once (no validation): for
measuring the client. Loopback, ephemeral port printed as "PORT <n>"."""
import asyncio
import json

REPLY = json.dumps({
    "id": "x", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A caption of a few words."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5001, "completion_tokens": 6, "total_tokens": 5007},
}).encode()
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(REPLY))


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            await reader.readexactly(n)
            writer.write(HEAD + REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 24, backlog=1024)
    print("PORT", srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
