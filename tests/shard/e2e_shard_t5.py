#!/usr/bin/python3
"""`vcurate shard` fills the t5_xxl family with the T5 embeddings of each
clip's captions, as Cosmos Curator's shard does; on a small random T5 saved
as a Hugging Face folder (tests/reference/t5_ref.py, spiece.model trained
here) and a fake split output (shardlib.Tree).

  e2e_shard_t5.py VCURATE REF_SCRIPT

1. `vcurate embed` then `vcurate shard` (no weights given to shard): each
   t5_xxl member is embed's pickle byte for byte; it loads with pickle +
   numpy as a list of one float16 [L, d_model] array per captioned window
   (windows without "qwen_caption" skipped, clips without captions: []), and
   the arrays equal the PyTorch reference within float16 rounding.
2. A caption edited in metas without rerunning embed: with no weights shard
   stops at start-up naming the clip count and both fixes, writing nothing;
   with the weights it embeds that clip in process (reference values), packs
   the others from embed's files, and a rerun changes nothing.
3. The same split uploaded to S3 (Swift + s3api on loopback,
   tests/storage/swiftenv.py): shard from s3:// gives the same tars.
Skips (77) without torch, numpy or sentencepiece.
VC_SHARD_T5_DEVICE=cuda runs embed and shard's encoder on the GPU (the GPU
machine; set VC_SHARD_T5_NO_S3=1 there: no Swift, no package registry)."""
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

SKIP = 77
VCURATE, REF_SCRIPT = (os.path.abspath(a) for a in sys.argv[1:3])
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(REF_SCRIPT))
try:
    import numpy as np
    import sentencepiece as spm
    import torch  # noqa: F401
    import t5_ref as ref
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(SKIP)
import shardlib as sl  # noqa: E402

failures = []
DEVICE = os.environ.get("VC_SHARD_T5_DEVICE", "cpu")


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


WORDS = ref.WORDS


def make_model(folder, rng):
    """config.json, spiece.model, pytorch_model.bin (with a decoder) in the
    layout --model-weights-path reads: DIR/google-t5/t5-11b/."""
    return ref.make_tiny_hf_model(folder, rng, seed=5)


def win(s, e, **caps):
    w = {"start_frame": s, "end_frame": e}
    w.update(caps)
    return w


def run(args, env=None, expect=0):
    e = dict(os.environ)
    e["VCURATE_MODEL_DIR"] = "/nonexistent/vcurate-models"
    e.update(env or {})
    p = subprocess.run([VCURATE] + args, capture_output=True, text=True, env=e)
    if expect is not None and p.returncode != expect:
        print(p.stderr)
        raise sl.CheckError("vcurate %s: exit %d, want %d" % (" ".join(args[:1]), p.returncode, expect))
    return p


def t5_members(out):
    """{uuid: t5_xxl member bytes} over every tar of the dataset."""
    got = {}
    for d, _, fs in os.walk(out):
        if "/t5_xxl/" not in d + "/":
            continue
        for f in fs:
            with tarfile.open(os.path.join(d, f)) as t:
                for m in t:
                    got[m.name.split(".", 1)[0]] = t.extractfile(m).read()
    return got


def tars(out):
    return {k: v for k, v in sl.tree_files(out).items() if k.endswith(".tar")}


class Checker:
    def __init__(self, cfg, sd, sp):
        self.cfg, self.sp = cfg, sp
        self.enc = ref.T5EncoderRef(cfg, sd)
        self.cache = {}

    def reference(self, caption):
        if caption not in self.cache:
            ids = self.sp.encode(caption.strip())[:511] + [1]
            self.cache[caption] = ref.encode_padded(self.enc, [ids], pad_to=512)[0].astype(np.float16)
        return self.cache[caption]

    def member(self, tree, u, data, what):
        """data: a t5_xxl member holding the embeddings of u's current captions."""
        with open(tree.metas_files[u]) as f:
            caps = sl.window_captions(json.load(f), "qwen")
        arrs = pickle.loads(data)
        # byte-identical to numpy 1.x's pickle (numpy 2 names numpy._core)
        same = data == pickle.dumps(arrs, protocol=4) if np.__version__ < "2" else True
        ok = check(isinstance(arrs, list) and len(arrs) == len(caps) and same,
                   f"{what} {u[:8]}: pickle.dumps(list of {len(caps)} arrays, protocol=4)")
        worst = 0.0
        for a, c in zip(arrs if ok else [], caps):
            want = self.reference(c)
            good = isinstance(a, np.ndarray) and a.dtype == np.float16 and a.ndim == 2 \
                and a.shape == want.shape and a.shape[1] == self.cfg["d_model"]
            if not check(good, f"{what} {u[:8]}: float16 {getattr(a, 'shape', None)}, want {want.shape}"):
                continue
            diff = float(np.abs(a.astype(np.float32) - want.astype(np.float32)).max())
            tol = 2 ** -10 * max(1.0, float(np.abs(want).max()))   # one float16 step at the largest value
            check(diff <= tol, f"{what} {u[:8]}: max diff {diff:.2e} <= {tol:.1e}")
            worst = max(worst, diff)
        return worst


def shard_args(tree, out, *extra):
    return ["shard", "--input-clip-path", tree.input, "--output-dataset-path", out,
            "--threads", "2"] + list(extra)


def main():
    rng = random.Random(11)
    tmp = tempfile.mkdtemp(prefix="vc-shard-t5-")
    os.chmod(tmp, 0o755)   # the S3 server drops to user swift under it
    try:
        t0 = time.time()
        weights = os.path.join(tmp, "models")
        cfg, sd = make_model(os.path.join(weights, "google-t5", "t5-11b"), rng)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(weights, "google-t5", "t5-11b", "spiece.model"))
        ck = Checker(cfg, sd, sp)
        tree = sl.Tree(tmp)
        long_caption = " ".join(rng.choice(WORDS) for _ in range(700))   # > 512 tokens: truncated
        clips = [
            [win(0, 99, qwen_caption="  The video shows a car on a road at night.\n"),
             win(100, 239, qwen_caption="\u3000東京 夜景 🎥 café\t")],
            [win(0, 100, qwen_caption="a dog runs", cosmos_r1_caption="another algorithm"),
             win(101, 239, cosmos_r1_caption="only another algorithm")],
            [],
            [win(0, 239, qwen_caption="")],
            [win(0, 79, qwen_caption=long_caption), win(80, 159, qwen_caption="bus stop"),
             win(160, 239, qwen_caption="people walking in the rain")],
        ]
        uuids = [tree.add(1280, 720, 30.0, 240, windows=w, embed=False, video="v%d.mp4" % (i % 2))
                 for i, w in enumerate(clips)]
        tree.write_summary()
        print(f"model and split fixture in {time.time() - t0:.1f} s", flush=True)

        # 1. embed, then shard packs embed's files unchanged (no weights needed)
        run(["embed", "--input-clip-path", tree.input, "--model-weights-path", weights,
             "--device", DEVICE, "--threads", "2", "--batch-size", "3"])
        out = os.path.join(tmp, "out")
        p = run(shard_args(tree, out))
        check("4 from vcurate embed" in p.stderr and "0 to compute here" in p.stderr,
              "shard after embed: 4 members from embed's files, none computed")
        sl.check_dataset(tree, out)   # members == embed's pickles (or [] without captions)
        got = t5_members(out)
        worst = max(ck.member(tree, u, got[u], "embed") for u in uuids)
        print(f"     largest difference to the PyTorch reference: {worst:.2e}")
        check(got[uuids[2]] == sl.EMPTY_T5, "clip without windows: pickle.dumps([])")
        check(len(pickle.loads(got[uuids[1]])) == 1, "window with another algorithm's caption only: skipped")
        check(pickle.loads(got[uuids[4]])[0].shape[0] == 512, "a caption over 512 tokens: 512 rows")

        # 2. an edited caption, embed not rerun
        edited = uuids[0]
        with open(tree.metas_files[edited]) as f:
            m = json.load(f)
        m["windows"][1]["qwen_caption"] = "An edited caption: the camera pans left over the river."
        with open(tree.metas_files[edited], "w") as f:
            json.dump(m, f, indent=4)
        out2 = os.path.join(tmp, "out2")
        p = run(shard_args(tree, out2, "--model-weights-path", os.path.join(tmp, "nowhere")), expect=1)
        check(all(s in p.stderr for s in (
            "for 1 clip ", "0 never embedded, 1 whose captions changed", edited,
            "vcurate embed --input-clip-path %s --captioning-algorithm qwen" % tree.input,
            "vcurate models download --models t5_xxl --encoder-only"))
            and not tars(out2), "edited caption, no weights: start-up error naming the clip and both fixes")
        print("     " + "\n     ".join(l for l in p.stderr.splitlines() if "error" in l or l.startswith(" ")))

        p = run(shard_args(tree, out2, "--model-weights-path", weights, "--device", DEVICE))
        check("1 to compute here" in p.stderr and "embedded 2 captions of 1 clips" in p.stderr,
              "edited caption, weights present: that clip computed in process")
        print("     " + "".join(l for l in p.stderr.splitlines(True) if "T5 encoder" in l), end="")
        check(("on " + DEVICE.replace("cuda", "cuda:0") if DEVICE == "cuda" else "on " + DEVICE) in p.stderr,
              f"the encoder ran on {DEVICE}")
        sl.check_dataset(tree, out2, t5=lambda k, d: None)
        got2 = t5_members(out2)
        ck.member(tree, edited, got2[edited], "in-process")
        check(all(got2[u] == got[u] for u in uuids if u != edited), "the other clips: embed's files, unchanged")
        before = sl.tree_files(out2)
        p = run(shard_args(tree, out2, "--model-weights-path", weights, "--device", DEVICE))
        check(sl.tree_files(out2) == before and "embedded" not in p.stderr,
              "rerun over the finished output: nothing recomputed or changed")

        # embed catches up (the same encoder; float16 bits may differ by one
        # step where the batch differs: the GEMM shapes differ)
        run(["embed", "--input-clip-path", tree.input, "--model-weights-path", weights, "--device", DEVICE,
             "--threads", "2"])
        with open(os.path.join(tree.input, "t5_xxl", "v0", "qwen", edited + ".pickle"), "rb") as f:
            data = f.read()
        ck.member(tree, edited, data, "embed after the edit")
        print("     embed's pickle %s the member shard computed" % ("equals" if data == got2[edited] else "differs from"))

        # 3. the same split on S3: records, pickles and metas read through s3://
        s3_case(tmp, tree, weights, out2, uuids[4], edited, ck)
    except sl.CheckError as e:
        check(False, str(e))
    finally:
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"files kept in {tmp}")
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed")
        sys.exit(1)
    print("OK: shard t5_xxl")


def s3_case(tmp, tree, weights, want_out, u, edited, ck):
    sys.path.insert(0, os.path.join(HERE, "..", "storage"))
    import swiftenv
    if os.environ.get("VC_SHARD_T5_NO_S3") or not swiftenv.install():
        print("skip S3 part: VC_SHARD_T5_NO_S3 set, or the swift/memcached/python3-boto3 packages cannot be installed")
        return
    t0 = time.time()
    with swiftenv.SwiftS3(os.path.join(tmp, "swift")) as server:
        print(f"     swift up in {time.time() - t0:.1f} s", flush=True)
        env = server.env()
        s3 = server.boto3()
        s3.create_bucket(Bucket="vc-shard-t5")
        # the state of step 2 (one stale record): shard computes that clip
        # from the S3 metas and packs the others' pickles read from S3
        for d, _, fs in os.walk(tree.input):
            for f in fs:
                p = os.path.join(d, f)
                s3.upload_file(p, "vc-shard-t5", "split/" + os.path.relpath(p, tree.input))
        rec = os.path.join(tree.input, "t5_xxl", "v0", "qwen", u + ".json")
        with open(rec) as f:
            r = json.load(f)
        r["windows"][0]["caption_sha256"] = "0" * 64   # as if its caption changed after embed
        s3.put_object(Bucket="vc-shard-t5", Key="split/t5_xxl/v0/qwen/%s.json" % u,
                      Body=json.dumps(r).encode())
        out = os.path.join(tmp, "out-s3")
        p = run(["shard", "--input-clip-path", "s3://vc-shard-t5/split", "--output-dataset-path", out,
                 "--threads", "2", "--model-weights-path", weights, "--device", DEVICE], env=env)
        check("3 from vcurate embed" in p.stderr and "1 to compute here" in p.stderr,
              "S3 input: 3 members from embed's pickles on S3, 1 computed from the S3 metas")
        a, b = tars(want_out), tars(out)
        check(sorted(a) == sorted(b) and all(a[k] == b[k] for k in a if "/t5_xxl/" not in k),
              "S3 input: the same video and metas tars as the local run")
        ta, tb = t5_members(want_out), t5_members(out)
        check(sorted(ta) == sorted(tb) and all(ta[k] == tb[k] for k in ta if k not in (u, edited)),
              "S3 input: the same t5_xxl members from embed's pickles")
        ck.member(tree, u, tb[u], "S3 in-process")
        ck.member(tree, edited, tb[edited], "S3 from embed")
        p = run(["shard", "--input-clip-path", "s3://vc-shard-t5/split", "--output-dataset-path",
                 os.path.join(tmp, "out-s3-2"), "--model-weights-path", os.path.join(tmp, "nowhere")],
                env=env, expect=1)
        check("for 1 clip " in p.stderr and "vcurate embed --input-clip-path s3://vc-shard-t5/split" in p.stderr,
              "S3 input, no weights: the start-up error")

        # the weights on S3 too, in the models layout: fetched into the local
        # cache once, then the same members as with the local folder
        for d, _, fs in os.walk(weights):
            for f in fs:
                p = os.path.join(d, f)
                s3.upload_file(p, "vc-shard-t5", "models/" + os.path.relpath(p, weights))
        env["VCURATE_S3_CACHE_DIR"] = os.path.join(tmp, "s3cache")
        out3 = os.path.join(tmp, "out-s3-3")
        p = run(["shard", "--input-clip-path", "s3://vc-shard-t5/split", "--output-dataset-path", out3,
                 "--threads", "2", "--model-weights-path", "s3://vc-shard-t5/models", "--device", DEVICE],
                env=env)
        check("1 to compute here" in p.stderr and t5_members(out3) == tb,
              "S3 weights (models layout): the same t5_xxl members as with local weights")
        bad = run(["shard", "--input-clip-path", "s3://vc-shard-t5/split", "--output-dataset-path",
                   os.path.join(tmp, "out-s3-4"), "--model-weights-path", "s3://vc-shard-t5/nomodels"],
                  env=env, expect=1)
        check("s3://vc-shard-t5/nomodels/google-t5/t5-11b" in bad.stderr,
              "S3 weights missing: the error names the S3 folder")

        # embed straight on S3, weights given as a Hugging Face folder on S3:
        # the same pickles as embed on the local split
        s3.put_object(Bucket="vc-shard-t5", Key="split/t5_xxl/v0/qwen/%s.json" % u, Body=open(rec, "rb").read())
        for k in [o["Key"] for o in s3.list_objects_v2(Bucket="vc-shard-t5", Prefix="split/t5_xxl/")["Contents"]]:
            s3.delete_object(Bucket="vc-shard-t5", Key=k)
        run(["embed", "--input-clip-path", "s3://vc-shard-t5/split", "--model-weights-path",
             "s3://vc-shard-t5/models/google-t5/t5-11b", "--device", DEVICE, "--threads", "2"], env=env)
        local = sorted(os.listdir(os.path.join(tree.input, "t5_xxl", "v0", "qwen")))
        keys = sorted(o["Key"].rsplit("/", 1)[1] for o in
                      s3.list_objects_v2(Bucket="vc-shard-t5", Prefix="split/t5_xxl/v0/qwen/")["Contents"])
        check(keys == local, "embed on S3: the same files as embed on the local split")
        for f in keys:   # and the values of the PyTorch reference
            if f.endswith(".pickle"):
                got = s3.get_object(Bucket="vc-shard-t5", Key="split/t5_xxl/v0/qwen/" + f)["Body"].read()
                ck.member(tree, f.split(".")[0], got, "embed on S3")


main()
