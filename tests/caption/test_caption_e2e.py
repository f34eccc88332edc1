#!/usr/bin/python3
"""End-to-end captioning: vcurate split against fake_vlm.py (loopback).

1. Exactness: videos at 24, 25, 29.97, 30 and 60 fps whose luma encodes the
   frame index; every window's frame count, size and the clip frames sent
   must be Cosmos Curator's (cosmos_rules.py); outputs (metas, chunk
   records, summary totals, all_window_captions.json, previews) agree.
2. Faults: HTTP 500, 429 + Retry-After, timeouts, malformed JSON, dropped
   connections, finish_reason length and windows that always fail: every
   window ends with a caption or a recorded error, the video is left undone,
   and a rerun sends requests only for the clips with failed windows.
3. cosmos_r1 with stage 2, enhance, image parts, an API key from the
   environment (never printed or written).
4. Start-up errors: no endpoint, an API key on the command line.
Usage: test_caption_e2e.py VCURATE"""
import glob
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cosmos_rules as R  # noqa: E402

VC = os.path.abspath(sys.argv[1])
PY = "/usr/bin/python3"
FPS = [("24", "24"), ("25", "25"), ("2997", "30000/1001"), ("30", "30"), ("60", "60")]


def ffmpeg(out, rate, seconds, size="320x180"):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=gray:size={size}:rate={rate}:duration={seconds},"
                    "geq=lum='mod(N*7\\,200)+28':cb=128:cr=128",
                    "-c:v", "libx264", "-preset", "veryfast", "-qp", "8", "-pix_fmt", "yuv420p", out], check=True)


class Server:
    def __init__(self, tmp, name, *args):
        self.stats = os.path.join(tmp, name + ".stats.json")
        self.viol = os.path.join(tmp, name + ".violations.txt")
        self.p = subprocess.Popen([PY, os.path.join(HERE, "fake_vlm.py"), "--stats", self.stats,
                                   "--violations", self.viol, *args], stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = "http://127.0.0.1:%d/v1" % int(line.split()[1])

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(10)
        with open(self.stats) as f:
            st = json.load(f)
        assert not st["violations"], st["violations"][:5]
        return st


def split(inp, out, url, *extra, env=None, expect=(0,)):
    cmd = [VC, "split", "--input-video-path", inp, "--output-clip-path", out, "--no-progress",
           "--splitting-algorithm", "fixed-stride", "--fixed-stride-split-duration", "14",
           "--captioning-endpoint", url, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode not in expect:
        sys.stderr.write(r.stdout + r.stderr)
        raise AssertionError(f"split exited {r.returncode}, expected {expect}")
    return r


def metas(out):
    res = {}
    for p in glob.glob(os.path.join(out, "metas/v0/*.json")):
        with open(p) as f:
            res[os.path.basename(p)[:-5]] = json.load(f)
    return res


def gray(y):
    return (y - 16) * 255.0 / 219.0


CAP = re.compile(r"frames=(\d+) size=(\d+)x(\d+) luma=([\d,]+)")


def check_exact(tmp):
    inp = os.path.join(tmp, "in")
    os.makedirs(inp)
    rates = {}
    for name, rate in FPS:
        ffmpeg(os.path.join(inp, f"v{name}.mp4"), rate, 23)
        rates[f"v{name}.mp4"] = float(Fraction(rate))
    srv = Server(tmp, "exact", "--delay", "0.05")
    out = os.path.join(tmp, "out")
    split(inp, out, srv.url, "--generate-previews", "--captioning-max-concurrent-requests", "8")
    st = srv.stop()
    assert st["max_inflight"] > 1, st   # requests really overlap
    ms = metas(out)
    assert len(ms) == 10, len(ms)
    nwin = 0
    tokens = 0
    for uuid, m in ms.items():
        fps = rates[os.path.basename(m["source_video"])]
        plan, (h, w) = R.clip_plan(m["num_frames"], fps, m["height"], m["width"])
        assert [(x["start_frame"], x["end_frame"]) for x in m["windows"]] == [(s, e) for s, e, _ in plan]
        first = math.ceil(m["duration_span"][0] * fps - 1e-6)   # clip frame 0 in the source
        for win, (s, e, idx) in zip(m["windows"], plan):
            mt = CAP.fullmatch(win["qwen_caption"])
            assert mt, win["qwen_caption"]
            n, cw, ch = int(mt.group(1)), int(mt.group(2)), int(mt.group(3))
            assert (n, ch, cw) == (len(idx), h, w), (uuid, s, e, n, cw, ch, len(idx), w, h)
            lumas = [int(x) for x in mt.group(4).split(",")]
            want = [gray(28 + ((first + i) * 7) % 200) for i in idx]
            bad = [(i, a, round(b)) for i, a, b in zip(idx, lumas, want) if abs(a - b) > 3]
            assert not bad, (uuid, fps, s, e, bad[:4])
            assert "caption_status" not in win
            assert os.path.exists(os.path.join(out, "previews", uuid, f"{s}_{e}.webp"))
            tokens += win["qwen_prompt_tokens"]
            nwin += 1
        assert m["has_caption"] and m["valid"]
        assert m["total_prompt_tokens"] == sum(x["qwen_prompt_tokens"] for x in m["windows"])
    with open(os.path.join(out, "summary.json")) as f:
        summ = json.load(f)
    assert summ["total_prompt_tokens"] == tokens, (summ["total_prompt_tokens"], tokens)
    assert summ["total_num_clips_with_caption"] == 10
    with open(os.path.join(out, "v0/all_window_captions.json")) as f:
        allc = json.load(f)
    for rel, clips in allc.items():
        for uuid, wins in clips.items():
            assert wins == {f"{x['start_frame']}_{x['end_frame']}": x["qwen_caption"] for x in ms[uuid]["windows"]}
    print(f"exact: {nwin} windows in 10 clips at 5 frame rates match Cosmos's counts, sizes and frames")


def check_faults(tmp):
    inp = os.path.join(tmp, "in")
    out = os.path.join(tmp, "faults")
    srv = Server(tmp, "faults", "--faults", "500,429,timeout,malformed,drop", "--fault-rate", "0.6",
                 "--timeout-sleep", "2", "--length", "0.2", "--fail-always", "0.15")
    r = split(inp, out, srv.url, "--captioning-request-timeout-s", "1", "--captioning-retry-delay-s", "0.05",
              "--captioning-max-retries", "3", expect=(1,))
    st = srv.stop()
    assert set(st["faults"]) == {"500", "429", "timeout", "malformed", "drop"}, st["faults"]
    ms = metas(out)
    failed_clips = set()
    truncated = 0
    for uuid, m in ms.items():
        for w in m["windows"]:
            status = w.get("caption_status", "success")
            if status == "error":
                assert "qwen_caption" not in w and w["caption_error"], w
                failed_clips.add(uuid)
            else:
                assert CAP.fullmatch(w["qwen_caption"]), w
                truncated += status == "truncated"
        assert m["has_caption"] == any(w.get("caption_status") != "error" for w in m["windows"])
        if uuid in failed_clips:
            assert "qwen_caption" in m.get("errors", []), m.get("errors")
    assert failed_clips and truncated, (failed_clips, truncated)
    errs = glob.glob(os.path.join(out, "video_errors/*.json"))
    assert errs and all("captioning" in json.load(open(p))["errors"] for p in errs)
    windows_to_redo = sum(len(ms[u]["windows"]) for u in failed_clips)
    before = {u: json.dumps(m) for u, m in ms.items() if u not in failed_clips}
    # rerun: only the clips with failed windows are captioned again
    srv = Server(tmp, "rerun")
    split(inp, out, srv.url)
    st = srv.stop()
    assert st["vlm_requests"] == windows_to_redo, (st["vlm_requests"], windows_to_redo)
    ms = metas(out)
    for u, m in ms.items():
        assert all("qwen_caption" in w and w.get("caption_status") != "error" for w in m["windows"]), u
        if u in before:
            assert json.dumps(m) == before[u]
    assert not glob.glob(os.path.join(out, "video_errors/*.json"))
    print(f"faults: {st['vlm_requests']} windows of {len(failed_clips)} failed clips redone on rerun; "
          f"{truncated} truncated recorded")


def check_r1(tmp):
    inp = os.path.join(tmp, "in1")
    os.makedirs(inp)
    shutil.copy(os.path.join(tmp, "in", "v30.mp4"), inp)
    out = os.path.join(tmp, "r1")
    secret = "sk-test-SECRET-4242"
    srv = Server(tmp, "r1", "--algo", "cosmos_r1", "--model", "my-r1", "--stage2", "--enhance",
                 "--frames", "images", "--api-key", secret)
    env = dict(os.environ, MY_VLM_KEY=secret)
    r = split(inp, out, srv.url, "--captioning-algorithm", "cosmos_r1", "--captioning-model", "my-r1",
              "--qwen-stage2-caption", "--enhance-captions", "--captioning-server", "sglang",
              "--captioning-api-key-env", "MY_VLM_KEY", "--verbose", env=env)
    srv.stop()
    assert secret not in r.stdout + r.stderr
    for p in glob.glob(os.path.join(out, "**/*"), recursive=True):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                assert secret.encode() not in f.read(), p
    ms = metas(out)
    for m in ms.values():
        for w in m["windows"]:
            cap = w["cosmos_r1_caption"]
            assert cap.startswith("REFINED: frames="), cap   # <answer> extracted from the stage-2 reply
            assert w["qwen_lm_enhanced_caption"] == "ENHANCED: " + cap
    # a wrong key: 401 is not retried, every window is an error
    srv = Server(tmp, "r1b", "--algo", "cosmos_r1", "--model", "my-r1", "--api-key", "other")
    r = split(inp, os.path.join(tmp, "r1b"), srv.url, "--captioning-algorithm", "cosmos_r1",
              "--captioning-model", "my-r1", "--captioning-api-key-env", "MY_VLM_KEY", env=env, expect=(1,))
    srv.stop()
    assert "HTTP 401" in r.stderr and secret not in r.stdout + r.stderr
    print("cosmos_r1: stage 2, enhance, image parts and the API key work; the key is never shown")


def check_startup(tmp):
    inp = os.path.join(tmp, "in1")
    r = subprocess.run([VC, "split", "--input-video-path", inp, "--output-clip-path", os.path.join(tmp, "x")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--captioning-endpoint" in r.stderr and "--no-generate-captions" in r.stderr
    assert not os.path.exists(os.path.join(tmp, "x"))
    r = subprocess.run([VC, "split", "--input-video-path", inp, "--output-clip-path", os.path.join(tmp, "x"),
                        "--captioning-api-key", "sk-abc"], capture_output=True, text=True)
    assert r.returncode == 2 and "sk-abc" not in r.stderr
    print("start-up: no endpoint and a key on the command line are refused")


def main():
    tmp = tempfile.mkdtemp(prefix="vc-caption-")
    try:
        t = time.time()
        check_exact(tmp)
        check_faults(tmp)
        check_r1(tmp)
        check_startup(tmp)
        print(f"ok ({time.time() - t:.1f} s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
