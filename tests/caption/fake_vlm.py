#!/usr/bin/python3
"""An OpenAI-compatible chat-completions server for vcurate's captioning tests.

Loopback only, on an ephemeral port (printed as "PORT <n>" on stdout). Every
request is validated strictly against what Cosmos Curator sends its model
(roles, content parts, model name, sampling fields, prompt texts, that the
frames decode as JPEG to an even count >= 2 of equal sizes, multiples of 28,
within Qwen's pixel bounds); a violation is answered with HTTP 400 and logged
to --violations. Captions are deterministic and describe what was received:

    frames=<n> size=<w>x<h> luma=<mean luma of each frame, comma-separated>

so a test can check the frame count, size and which clip frames were sent
(test videos encode the frame index in the luma). Cosmos-Reason1 replies are
wrapped in <think>/<answer>, stage-2 replies start with "REFINED: ", enhance
replies with "ENHANCED: ".

Faults (--faults), chosen per request body by a hash so retries of the same
body are recognised: a fraction of bodies fails on its first attempt with one
of 500, 429 + Retry-After, a timeout (sleep past the client's), malformed
JSON, a dropped connection; --length makes some answers finish_reason
"length"; --fail-always makes some windows fail on every attempt.
"""
import argparse
import base64
import hashlib
import http.server
import io
import json
import socket
import sys
import threading
import time

from PIL import Image

PROMPTS = {
    "default": "\n        Elaborate on the visual and narrative elements of the video in detail.\n    ",
    "av": "\n        The video depicts the view from a camera mounted on a car as it is driving.\n"
          "        Pay special attention to the motion of the cars, including the primary car\n"
          "        whose point-of-view we observe in the video. Also note important factors\n"
          "        that would relate to driving safety like the relative positions of pedestrians,\n"
          "        lane markers, road signs, traffic signals, and any aggressive driving behavior\n"
          "        of other vehicles. Also pay attention to interesting landmarks and describe\n"
          "        them in detail.\n    ",
}
ENHANCE = ("\n        You are a chatbot that enhances video caption inputs, adding more color and details to the text.\n"
           "        The output should be longer than the provided input caption.\n"
           "        Respond only with the enhanced caption; do not ask follow-up questions or offer additional assistance.\n    ")
STAGE2 = {
    "qwen": "Improve and refine following video description. Focus on highlighting the key visual and sensory elements.\n"
            "Ensure the description is clear, precise, and paints a compelling picture of the scene.\n",
    "cosmos_r1": "Improve and refine following video description.\n    Focus on highlighting the key visual and sensory"
                 " elements.\n    Ensure the description is clear, precise, and paints a compelling\n    picture of the scene.\n",
}
R1_SYSTEM = ("You are a helpful assistant. Answer the question in the following format: "
             "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>.")
VLLM_SAMPLING = {"temperature": 0.1, "top_p": 0.001, "top_k": 0, "repetition_penalty": 1.05, "min_p": 0.0,
                 "presence_penalty": 0.0, "frequency_penalty": 0.0}


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.attempts = {}          # body hash -> attempts seen
        self.requests = 0
        self.vlm_requests = 0
        self.faults = {}
        self.violations = []
        self.inflight = 0
        self.max_inflight = 0


def frac(h, salt):
    return int(hashlib.sha256((salt + h).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj=None, raw=None, headers=()):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def violation(self, why):
        st = self.server.st
        with st.lock:
            st.violations.append(why)
        if st.args.violations:
            with open(st.args.violations, "a") as f:
                f.write(why + "\n")
        self.reply(400, {"error": {"message": why}})

    def do_POST(self):
        st = self.server.st
        with st.lock:
            st.inflight += 1
            st.max_inflight = max(st.max_inflight, st.inflight)
        try:
            self.handle_post()
        finally:
            with st.lock:
                st.inflight -= 1

    def handle_post(self):
        st = self.server.st
        a = st.args
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        if self.path != "/v1/chat/completions":
            return self.violation(f"path {self.path}")
        if self.headers.get("Content-Type") != "application/json":
            return self.violation("content type " + str(self.headers.get("Content-Type")))
        want_auth = f"Bearer {a.api_key}" if a.api_key else None
        if self.headers.get("Authorization") != want_auth:
            return self.reply(401, {"error": {"message": "bad or missing API key"}})
        try:
            req = json.loads(data)
        except ValueError:
            return self.violation("request is not JSON")
        h = hashlib.sha256(data).hexdigest()
        with st.lock:
            st.requests += 1
            att = st.attempts.get(h, 0) + 1
            st.attempts[h] = att
        try:
            kind, info = self.validate(req)
        except AssertionError as e:
            return self.violation(str(e))
        if kind == "vlm":
            with st.lock:
                st.vlm_requests += 1
            if frac(info["key"], "always") < a.fail_always:
                return self.reply(500, {"error": {"message": "injected permanent failure"}})
        # first-attempt faults
        if att == 1 and a.faults:
            f = frac(h, "fault")
            kinds = a.faults.split(",")
            if f < a.fault_rate:
                with st.lock:   # the kinds in turn, so that each occurs
                    k = kinds[sum(st.faults.values()) % len(kinds)]
                    st.faults[k] = st.faults.get(k, 0) + 1
                if k == "500":
                    return self.reply(500, {"error": {"message": "injected"}})
                if k == "429":
                    return self.reply(429, {"error": {"message": "slow down"}}, headers=[("Retry-After", "1")])
                if k == "timeout":
                    time.sleep(a.timeout_sleep)
                    return self.reply(500, {"error": {"message": "too late"}})
                if k == "malformed":
                    return self.reply(200, raw=b'{"choices": [{"message": {"content": "trunc')
                if k == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
        text = info["text"]
        finish = "stop"
        if kind == "vlm" and a.length and frac(info["key"], "length") < a.length:
            finish = "length"
        if a.delay:
            time.sleep(a.delay)
        out = {
            "id": "chatcmpl-" + h[:12], "object": "chat.completion", "model": req["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": info.get("prompt_tokens", 10), "completion_tokens": len(text.split()),
                      "total_tokens": 0},
        }
        self.reply(200, out)

    def validate(self, req):
        a = self.server.st.args
        msgs = req.get("messages")
        assert isinstance(msgs, list) and msgs, "no messages"
        if isinstance(msgs[-1].get("content"), str):
            return self.validate_enhance(req)
        assert req.get("model") == a.model, f"model {req.get('model')!r} != {a.model!r}"
        for k, v in VLLM_SAMPLING.items():
            assert req.get(k) == v, f"{k}={req.get(k)!r}, expected {v!r}"
        assert req.get("min_tokens") == 16, f"min_tokens={req.get('min_tokens')!r}"
        assert req.get("max_tokens") == a.max_tokens, f"max_tokens={req.get('max_tokens')!r}"
        if a.algo == "cosmos_r1":
            assert len(msgs) == 2 and msgs[0] == {"role": "system", "content": R1_SYSTEM}, "cosmos_r1 system message"
        else:
            assert len(msgs) == 1, "qwen: one user message"
        user = msgs[-1]
        assert user.get("role") == "user" and set(user) == {"role", "content"}, "user message keys"
        parts = user["content"]
        assert isinstance(parts, list) and len(parts) >= 2, "content parts"
        text = parts[-1]
        assert text.get("type") == "text" and set(text) == {"type", "text"}, "last part is the text"
        prompt = text["text"]
        stage2 = None
        if prompt != PROMPTS[a.prompt]:
            s2 = STAGE2[a.algo]
            assert a.stage2 and prompt.startswith(s2), f"prompt {prompt[:60]!r}"
            stage2 = prompt[len(s2):]
        frames = []
        if a.frames == "video":
            assert len(parts) == 2 and parts[0].get("type") == "video_url", "one video_url part"
            url = parts[0]["video_url"]["url"]
            pre = "data:video/jpeg;base64,"
            assert url.startswith(pre), "video data URL"
            frames = [base64.b64decode(x, validate=True) for x in url[len(pre):].split(",")]
        else:
            pre = "data:image/jpeg;base64,"
            for p in parts[:-1]:
                assert p.get("type") == "image_url", "image_url parts"
                u = p["image_url"]["url"]
                assert u.startswith(pre), "image data URL"
                frames.append(base64.b64decode(u[len(pre):], validate=True))
        n = len(frames)
        assert n >= 2 and n % 2 == 0, f"{n} frames: expected an even count >= 2"
        sizes, lumas = set(), []
        for fr in frames:
            im = Image.open(io.BytesIO(fr))
            assert im.format == "JPEG", "frame is not a JPEG"
            sizes.add(im.size)
            g = im.convert("L")
            hist = g.histogram()
            lumas.append(round(sum(i * c for i, c in enumerate(hist)) / (g.size[0] * g.size[1])))
        assert len(sizes) == 1, f"frame sizes differ: {sizes}"
        w, h = sizes.pop()
        assert w % 28 == 0 and h % 28 == 0, f"size {w}x{h} not multiples of 28"
        assert 128 * 784 * 0.9 <= w * h <= 768 * 784, f"size {w}x{h} out of bounds"
        key = ",".join(str(x) for x in lumas) + f"/{w}x{h}"
        if stage2 is not None:
            body = "REFINED: " + stage2
        else:
            body = f"frames={n} size={w}x{h} luma={','.join(str(x) for x in lumas)}"
        if a.algo == "cosmos_r1":
            body = f"<think>\nI look at {n} frames.\n</think>\n\n<answer>\n{body}\n</answer>"
        return "vlm", {"text": body, "key": key, "prompt_tokens": 100 + n * (w // 28) * (h // 28) // 2}

    def validate_enhance(self, req):
        a = self.server.st.args
        msgs = req["messages"]
        assert a.enhance, "enhance request without --enhance"
        assert req.get("model") == a.enhance_model, f"enhance model {req.get('model')!r}"
        assert len(msgs) == 2 and msgs[0] == {"role": "system", "content": ENHANCE}, "enhance system prompt"
        assert msgs[1]["role"] == "user" and isinstance(msgs[1]["content"], str), "enhance user message"
        assert req.get("max_tokens") == 2048, f"enhance max_tokens {req.get('max_tokens')!r}"
        assert "min_tokens" not in req, "enhance: no min_tokens"
        return "enhance", {"text": "ENHANCED: " + msgs[1]["content"]}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass   # clients that gave up (timeouts, injected drops)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="Qwen/Qwen2.5-VL-7B-Instruct")
    ap.add_argument("--enhance-model", default="Qwen/Qwen2.5-14B-Instruct")
    ap.add_argument("--algo", default="qwen")
    ap.add_argument("--prompt", default="default")
    ap.add_argument("--frames", default="video")
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--api-key")
    ap.add_argument("--stage2", action="store_true")
    ap.add_argument("--enhance", action="store_true")
    ap.add_argument("--faults", default="")
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--timeout-sleep", type=float, default=3.0)
    ap.add_argument("--length", type=float, default=0.0)
    ap.add_argument("--fail-always", type=float, default=0.0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--violations")
    ap.add_argument("--stats", help="write request counts here on SIGTERM/exit")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.st = State(a)
    print(f"PORT {srv.server_address[1]}", flush=True)

    import signal

    def stop(*_):
        if a.stats:
            with open(a.stats, "w") as f:
                json.dump({"requests": srv.st.requests, "vlm_requests": srv.st.vlm_requests,
                           "max_inflight": srv.st.max_inflight,
                           "faults": srv.st.faults, "violations": srv.st.violations}, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever()


if __name__ == "__main__":
    main()
