#!/usr/bin/python3
"""vcurate split --generate-cosmos-predict-dataset predict2, end to end.

  test_predict2.py VCURATE

Captions come from tests/caption/fake_vlm.py, embeddings from a small random
T5 (config.json, pytorch_model.bin with a decoder, a spiece.model trained
here) laid out as google-t5/t5-11b under --model-weights-path. Checks:
- every captioned window has videos/{uuid}_{S}_{E}.mp4, metas/....txt and
  t5_xxl/....pickle; the txt is the window's caption in metas/v0;
- the folder loads with Cosmos Predict 2's dataloader logic (videos/*.mp4
  that have a pickle; the pickle a list of one 2-D float16 array, zero-padded
  to 512 with a 512-long mask);
- embeddings equal the PyTorch reference (tests/reference/t5_ref.py) of the
  caption within float16 rounding;
- each window mp4 plays and holds exactly the window's frames (ffprobe
  -count_frames, and the frames' hashes equal the clip's frames S..E); a
  clip's only window is the clip itself, as Cosmos Curator does;
- the warning for windows of <= 93 frames appears once;
- a rerun keeps existing files and writes the missing ones;
- missing T5 weights stop split at start-up with the fix command.
Skips (77) without torch, sentencepiece or PIL."""
import glob
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP = 77
VC = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
PY = "/usr/bin/python3"
sys.path.insert(0, os.path.join(TESTS, "reference"))
try:
    import numpy as np
    import sentencepiece as spm
    import torch  # noqa: F401
    import PIL  # noqa: F401  (fake_vlm.py)
    import t5_ref as ref
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(SKIP)

failures = []
P2 = "cosmos_predict2_video2world_dataset"
WARN = "Cosmos Predict 2's dataloader needs more than 93"


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


WORDS = ("frames size luma video shows car road night the a of x 0 1 2 3 4 5 6 7 8 9 = , "
         "320x180 people walking").split()


def make_t5(root, rng):
    folder = os.path.join(root, "google-t5", "t5-11b")
    os.makedirs(folder)
    text = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))) for _ in range(2000)]
    text += ["frames=%d size=320x180 luma=%s" % (rng.randint(2, 40), ",".join(str(rng.randint(0, 255))
                                                                               for _ in range(8)))
             for _ in range(500)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_prefix=os.path.join(folder, "spiece"),
                                   vocab_size=120, hard_vocab_limit=False, model_type="unigram", pad_id=0,
                                   eos_id=1, unk_id=2, bos_id=-1, minloglevel=2)
    os.remove(os.path.join(folder, "spiece.vocab"))
    cfg = ref.default_config(d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2, num_decoder_layers=2,
                             vocab_size=128)
    sd = ref.random_state_dict(cfg, seed=5)
    ref.save_hf_folder(folder, cfg, sd, st_name=None)
    return folder, cfg, sd


def make_video(path, frames, rate=30):
    """Grey frames whose luma follows the frame index (fake_vlm reads it back)."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=gray:size=320x180:rate={rate},"
                    "geq=lum='mod(N*7\\,200)+28':cb=128:cr=128",
                    "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-qp", "8",
                    "-pix_fmt", "yuv420p", path], check=True)


class Server:
    def __init__(self, tmp):
        self.stats = os.path.join(tmp, "vlm.stats.json")
        self.p = subprocess.Popen([PY, os.path.join(TESTS, "caption", "fake_vlm.py"), "--stats", self.stats,
                                   "--violations", os.path.join(tmp, "vlm.violations.txt")],
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = "http://127.0.0.1:%d/v1" % int(line.split()[1])

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(10)


def split(inp, out, url, weights, *extra):
    cmd = [VC, "split", "--input-video-path", inp, "--output-clip-path", out, "--no-progress",
           "--splitting-algorithm", "fixed-stride", "--fixed-stride-split-duration", "30",
           "--fixed-stride-min-clip-length-s", "1", "--threads", "2", "--device", "cpu",
           "--captioning-endpoint", url, "--model-weights-path", weights,
           "--generate-cosmos-predict-dataset", "predict2", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stderr[-3000:])
    return r


def ffprobe_frames(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                        "stream=nb_read_frames", "-of", "csv=p=0", path], capture_output=True, text=True)
    return int(r.stdout.strip() or -1)


def frame_hashes(path):
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-f", "framemd5", "-"],
                       capture_output=True, text=True)
    return [ln.rsplit(",", 1)[1].strip() for ln in r.stdout.splitlines() if ln and not ln.startswith("#")], r.stderr


def dataloader(root, d_model):
    """Cosmos Predict 2's dataset_video.Dataset, minus the decoding: the
    videos that have a pickle, each pickle a list of one 2-D ndarray, padded
    to 512 rows of float32 with a 512-long mask."""
    vids = sorted(glob.glob(os.path.join(root, "videos", "*.mp4")))
    out = []
    for v in vids:
        name = os.path.basename(v)[:-4]
        pk = os.path.join(root, "t5_xxl", name + ".pickle")
        if not os.path.exists(pk):
            continue
        with open(pk, "rb") as f:
            emb = pickle.load(f)
        assert isinstance(emb, list) and len(emb) == 1, type(emb)
        t5 = emb[0]
        assert isinstance(t5, np.ndarray) and t5.ndim == 2 and t5.dtype == np.float16, (t5.dtype, t5.shape)
        padded = np.zeros((512, d_model), dtype=np.float32)
        padded[:t5.shape[0]] = t5
        mask = np.zeros(512, dtype=np.int64)
        mask[:t5.shape[0]] = 1
        out.append((name, t5, padded, mask))
    return out


def main():
    rng = random.Random(11)
    tmp = tempfile.mkdtemp(prefix="vc-p2-")
    try:
        weights = os.path.join(tmp, "models")
        folder, cfg, sd = make_t5(weights, rng)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "spiece.model"))
        enc = ref.T5EncoderRef(cfg, sd)
        inp = os.path.join(tmp, "in")
        os.makedirs(inp)
        # 600 frames: windows 0_255, 256_599 (last window takes the remainder 88);
        # 400: 0_255, 256_399 (remainder 144 >= 128 gets its own window);
        # 80: one window, too short for Predict 2's 93 frames
        for name, n in (("a.mp4", 600), ("b.mp4", 400), ("c.mp4", 80)):
            make_video(os.path.join(inp, name), n)

        # missing weights: stops at start-up, says how to get them, writes nothing
        srv = Server(tmp)
        out = os.path.join(tmp, "out")
        r = split(inp, out, srv.url, os.path.join(tmp, "no-models"))
        check(r.returncode == 2 and "vcurate models download" in r.stderr and "t5_xxl" in r.stderr
              and not os.path.exists(out), "missing T5 weights: exit 2 at start-up with the fix command")

        r = split(inp, out, srv.url, weights)
        check(r.returncode == 0, "split --generate-cosmos-predict-dataset predict2 runs")
        if r.returncode:
            return
        check(r.stderr.count(WARN) == 1, f"short-window warning printed once ({r.stderr.count(WARN)} times)")
        root = os.path.join(out, P2)
        metas = {}
        for p in glob.glob(os.path.join(out, "metas", "v0", "*.json")):
            with open(p) as f:
                metas[os.path.basename(p)[:-5]] = json.load(f)
        check(len(metas) == 3, f"3 clips ({len(metas)})")
        expected = {}
        for uuid, m in metas.items():
            for w in m["windows"]:
                if "qwen_caption" in w:
                    expected[f"{uuid}_{w['start_frame']}_{w['end_frame']}"] = (uuid, m, w)
        shapes = sorted((w["start_frame"], w["end_frame"]) for _, _, w in expected.values())
        check(shapes == [(0, 79), (0, 255), (0, 255), (256, 399), (256, 599)], f"windows {shapes}")
        for kind, ext in (("videos", "mp4"), ("metas", "txt"), ("t5_xxl", "pickle")):
            have = sorted(os.path.basename(p)[:-len(ext) - 1] for p in glob.glob(os.path.join(root, kind, "*")))
            check(have == sorted(expected), f"{kind}/: one .{ext} per captioned window")

        loaded = dataloader(root, cfg["d_model"])
        check(len(loaded) == len(expected), f"Predict 2 dataloader logic loads {len(loaded)} samples")
        worst = 0.0
        for name, t5, padded, mask in loaded:
            uuid, m, w = expected[name]
            cap = w["qwen_caption"]
            with open(os.path.join(root, "metas", name + ".txt"), "rb") as f:
                check(f.read() == cap.encode(), f"{name}.txt is the window caption")
            ids = sp.encode(cap.strip())[:511] + [1]
            want = ref.encode_padded(enc, [ids], pad_to=512)[0].astype(np.float16)
            ok = t5.shape == (len(ids), cfg["d_model"]) and mask.sum() == len(ids)
            diff = float(np.abs(t5.astype(np.float32) - want.astype(np.float32)).max()) if ok else float("inf")
            tol = 2 ** -10 * max(1.0, float(np.abs(want).max()))
            worst = max(worst, diff / tol)
            check(ok and diff <= tol, f"{name}: T5 [{len(ids)},{cfg['d_model']}] float16 = reference "
                                      f"(max diff {diff:.1e} <= {tol:.1e})")
            with open(os.path.join(root, "t5_xxl", name + ".pickle"), "rb") as f:
                data = f.read()
            check(data == pickle.dumps([t5], protocol=4), f"{name}.pickle = pickle.dumps([array], protocol=4)")

        # window videos: exactly the window's frames, playable
        for name, (uuid, m, w) in sorted(expected.items()):
            s, e = w["start_frame"], w["end_frame"]
            vid = os.path.join(root, "videos", name + ".mp4")
            clip = os.path.join(out, "clips", uuid + ".mp4")
            n = ffprobe_frames(vid)
            check(n == e - s + 1, f"{name}.mp4: ffprobe -count_frames {n} == {e - s + 1}")
            wh, werr = frame_hashes(vid)
            ch, _ = frame_hashes(clip)
            check(not werr and wh == ch[s:e + 1], f"{name}.mp4 plays and its frames are the clip's {s}..{e}")
            if len(m["windows"]) == 1:
                check(open(vid, "rb").read() == open(clip, "rb").read(), f"{name}.mp4: the clip itself (one window)")
        short = [n for n in loaded if expected[n[0]][2]["end_frame"] - expected[n[0]][2]["start_frame"] + 1 <= 93]
        check(len(short) == 1, "one window is too short for num_frames=93 (and was warned about)")

        # rerun: existing files are kept, missing ones written again
        names = sorted(expected)
        edited = os.path.join(root, "metas", names[1] + ".txt")
        with open(edited, "w") as f:
            f.write("EDITED")
        gone = os.path.join(root, "t5_xxl", names[2] + ".pickle")
        gone_bytes = open(gone, "rb").read()
        os.remove(gone)
        gone_mp4 = os.path.join(root, "videos", names[3] + ".mp4")
        gone_mp4_bytes = open(gone_mp4, "rb").read()
        os.remove(gone_mp4)
        kept = os.path.join(root, "videos", names[0] + ".mp4")
        mtime = os.stat(kept).st_mtime_ns
        shutil.rmtree(os.path.join(out, "processed_videos"))   # make the videos run again
        r = split(inp, out, srv.url, weights)
        check(r.returncode == 0, "rerun after removing processed_videos/")
        check(open(edited).read() == "EDITED", "rerun: an existing txt is not overwritten")
        # (values may differ in the last float16 bit: another batch; frames
        # too: the clip is encoded again, by a multi-threaded encoder)
        old = pickle.loads(gone_bytes)[0].astype(np.float32)
        new = pickle.load(open(gone, "rb"))[0].astype(np.float32) if os.path.exists(gone) else None
        check(new is not None and new.shape == old.shape and np.abs(new - old).max() <= 2 ** -10 * max(1, np.abs(old).max()),
              "rerun: a missing pickle is rewritten")
        s, e = expected[names[3]][2]["start_frame"], expected[names[3]][2]["end_frame"]
        check(os.path.exists(gone_mp4) and ffprobe_frames(gone_mp4) == e - s + 1 == len(frame_hashes_bytes(gone_mp4_bytes, tmp)),
              "rerun: a missing window mp4 is rewritten with the window's frames")
        check(os.stat(kept).st_mtime_ns == mtime, "rerun: an existing window mp4 is not rewritten")

        # libx264 clips have B-frames (reordered packets): windows still cut exactly
        out2 = os.path.join(tmp, "out-x264")
        r = split(os.path.join(inp, "a.mp4"), out2, srv.url, weights, "--transcode-encoder", "libx264")
        check(r.returncode == 0, "split with --transcode-encoder libx264")
        for vid in sorted(glob.glob(os.path.join(out2, P2, "videos", "*.mp4"))):
            uuid, s, e = os.path.basename(vid)[:-4].rsplit("_", 2)
            s, e = int(s), int(e)
            wh, werr = frame_hashes(vid)
            ch, _ = frame_hashes(os.path.join(out2, "clips", uuid + ".mp4"))
            check(ffprobe_frames(vid) == e - s + 1 and not werr and wh == ch[s:e + 1],
                  f"libx264: {s}_{e}.mp4 holds exactly the clip's frames {s}..{e}")
        srv.stop()
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)


def frame_hashes_bytes(data, tmp):
    p = os.path.join(tmp, "cmp.mp4")
    with open(p, "wb") as f:
        f.write(data)
    return frame_hashes(p)[0]


if __name__ == "__main__":
    main()
    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)
