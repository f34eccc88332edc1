#!/usr/bin/python3
"""vcurate embed end to end, on a small random T5 saved as a Hugging Face
folder (config.json, pytorch_model.bin with a decoder, spiece.model trained
here) and a hand-made split output.

  test_t5_embed.py VCURATE REF_SCRIPT

Checks: t5_xxl/v0/qwen/{uuid}.pickle is pickle.dumps([float16 [L,d] per
captioned window], protocol 4) byte for byte, L = sentencepiece pieces of
caption.strip() + </s> (<= 512), values = the PyTorch reference within
float16 rounding; windows without the caption are skipped; the predict2 files
load with Cosmos Predict 2's dataloader logic (list of one 2-D float16 array,
zero-padded to 512); a rerun computes nothing; an edited caption recomputes
its clip only; another annotation version / algorithm goes to its own folder.
Skips (77) without torch or sentencepiece."""
import json
import os
import pickle
import subprocess
import sys
import tempfile

SKIP = 77
VCURATE, REF_SCRIPT = (os.path.abspath(a) for a in sys.argv[1:3])
sys.path.insert(0, os.path.dirname(REF_SCRIPT))
try:
    import numpy as np
    import sentencepiece as spm
    import torch
    import t5_ref as ref
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(SKIP)

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)


WORDS = ref.WORDS


def make_model(folder, rng):
    """The tiny T5 of t5_ref.make_tiny_hf_model (seed 3)."""
    return ref.make_tiny_hf_model(folder, rng, seed=3)


def window(s, e, **caps):
    w = {"start_frame": s, "end_frame": e}
    w.update(caps)
    return w


def run(*args):
    r = subprocess.run([VCURATE, "embed", *args], capture_output=True, text=True)
    print(r.stderr.strip())
    return r


def main():
    import random
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "t5")
        cfg, sd = make_model(model_dir, rng)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "spiece.model"))
        enc = ref.T5EncoderRef(cfg, sd)

        out = os.path.join(tmp, "split")
        metas = os.path.join(out, "metas", "v0")
        os.makedirs(metas)
        long_caption = " ".join(rng.choice(WORDS) for _ in range(900))
        clips = {
            "0a1b-clip-a": [window(0, 255, qwen_caption="  The video shows a car on a road at night.\n"),
                            window(256, 400, qwen_caption=long_caption)],
            "1c2d-clip-b": [window(0, 120, qwen_caption="\u3000東京 夜景 🎥 café\t"),
                            window(121, 300, cosmos_r1_caption="only another algorithm"),
                            window(301, 500, qwen_caption="")],
            "2e3f-clip-c": [],
        }
        for uuid, wins in clips.items():
            with open(os.path.join(metas, uuid + ".json"), "w") as f:
                json.dump({"span_uuid": uuid, "valid": bool(wins), "windows": wins}, f, indent=4)
        p2 = os.path.join(out, "cosmos_predict2_video2world_dataset")
        os.makedirs(os.path.join(p2, "videos"))
        open(os.path.join(p2, "videos", "0a1b-clip-a_0_255.mp4"), "wb").write(b"not a real mp4")

        r = run("--input-clip-path", out, "--model-weights-path", model_dir, "--threads", "2",
                "--batch-size", "2", "--predict2", "--device", "cpu")
        check(r.returncode == 0, "vcurate embed runs")
        if r.returncode:
            sys.exit(1)
        t5dir = os.path.join(out, "t5_xxl", "v0", "qwen")
        for uuid, wins in clips.items():
            path = os.path.join(t5dir, uuid + ".pickle")
            data = open(path, "rb").read()
            arrs = pickle.loads(data)
            caps = [w["qwen_caption"] for w in wins if "qwen_caption" in w]
            check(isinstance(arrs, list) and len(arrs) == len(caps), f"{uuid}: {len(caps)} arrays")
            check(data == pickle.dumps(arrs, protocol=4), f"{uuid}: pickle bytes = pickle.dumps(list, protocol=4)")
            for a, c in zip(arrs, caps):
                ids = sp.encode(c.strip())[:511] + [1]
                want = ref.encode_padded(enc, [ids], pad_to=512)[0].astype(np.float16)
                ok = a.dtype == np.float16 and a.shape == (len(ids), cfg["d_model"]) and a.flags.c_contiguous
                diff = np.abs(a.astype(np.float32) - want.astype(np.float32)).max() if ok else float("inf")
                tol = 2 ** -10 * max(1.0, float(np.abs(want).max()))   # one float16 step at the largest value
                check(ok and diff <= tol, f"{uuid}: [{len(ids)},{cfg['d_model']}] float16, max diff {diff:.2e} (<= {tol:.1e})")
        rec = json.load(open(os.path.join(t5dir, "0a1b-clip-a.json")))
        check(len(rec["windows"]) == 2, "record lists the captioned windows")

        # predict2: only the window with a video; Cosmos Predict 2's loader
        pk = os.path.join(p2, "t5_xxl", "0a1b-clip-a_0_255.pickle")
        check(os.path.isfile(pk) and not os.path.exists(os.path.join(p2, "t5_xxl", "0a1b-clip-a_256_400.pickle")),
              "predict2: t5_xxl pickle written for the window with a video only")
        with open(pk, "rb") as f:
            emb = pickle.load(f)
        assert isinstance(emb, list) and len(emb) == 1 and isinstance(emb[0], np.ndarray) and emb[0].ndim == 2
        t5 = emb[0]
        padded = np.zeros((512, cfg["d_model"]), dtype=np.float32)
        padded[:t5.shape[0]] = t5
        mask = np.zeros(512, dtype=np.int64)
        mask[:t5.shape[0]] = 1
        a0 = pickle.load(open(os.path.join(t5dir, "0a1b-clip-a.pickle"), "rb"))[0]
        check(np.array_equal(t5, a0) and mask.sum() == t5.shape[0] < 512,
              f"predict2 pickle loads as Cosmos Predict 2 does: list of one float16 {t5.shape}, padded to 512")
        txt = open(os.path.join(p2, "metas", "0a1b-clip-a_0_255.txt"), encoding="utf-8").read()
        check(txt == clips["0a1b-clip-a"][0]["qwen_caption"], "predict2 metas txt = the caption")

        # resume: nothing to do; an edited caption recomputes its clip only
        mt = {u: os.stat(os.path.join(t5dir, u + ".pickle")).st_mtime_ns for u in clips}
        r = run("--input-clip-path", out, "--model-weights-path", model_dir)
        check(r.returncode == 0 and "0 to embed" in r.stderr, "rerun: every clip up to date")
        clips["1c2d-clip-b"][0]["qwen_caption"] = "an edited caption"
        with open(os.path.join(metas, "1c2d-clip-b.json"), "w") as f:
            json.dump({"windows": clips["1c2d-clip-b"]}, f)
        r = run("--input-clip-path", out, "--model-weights-path", model_dir)
        check(r.returncode == 0 and "1 to embed" in r.stderr, "edited caption: one clip to embed")
        mt2 = {u: os.stat(os.path.join(t5dir, u + ".pickle")).st_mtime_ns for u in clips}
        check(mt2["0a1b-clip-a"] == mt["0a1b-clip-a"] and mt2["1c2d-clip-b"] != mt["1c2d-clip-b"],
              "only the edited clip was rewritten")
        a = pickle.load(open(os.path.join(t5dir, "1c2d-clip-b.pickle"), "rb"))
        check(a[0].shape[0] == len(sp.encode("an edited caption")) + 1, "the new caption's embedding")

        # another version and algorithm
        os.makedirs(os.path.join(out, "metas", "v1"))
        with open(os.path.join(out, "metas", "v1", "1c2d-clip-b.json"), "w") as f:
            json.dump({"windows": clips["1c2d-clip-b"]}, f)
        r = run("--input-clip-path", out, "--model-weights-path", model_dir, "--annotation-version", "v1",
                "--captioning-algorithm", "cosmos_r1")
        a = pickle.load(open(os.path.join(out, "t5_xxl", "v1", "cosmos_r1", "1c2d-clip-b.pickle"), "rb"))
        check(r.returncode == 0 and len(a) == 1, "v1 / cosmos_r1: its own folder, one captioned window")

        r = run("--input-clip-path", out, "--model-weights-path", os.path.join(tmp, "nowhere"))
        check(r.returncode == 1 and "vcurate models download" in r.stderr, "missing weights: names the fix")
        r = run("--input-clip-path", out, "--device", "cuda")
        check(r.returncode == 1, "--device cuda: refused (CPU only for now)")
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed")
        sys.exit(1)
    print("OK: vcurate embed")


main()
