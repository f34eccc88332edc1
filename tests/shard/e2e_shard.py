"""End-to-end tests of `vcurate shard` (run through tests/shard/shard_driver).

usage: e2e_shard.py SHARD_DRIVER [scenario...]
Each scenario builds a fake split output in a temp dir, runs the shard command
and reads the result back as a WebDataset loader would (see shardlib.py).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shardlib as sl  # noqa: E402

DRIVER = None


def run(args, env=None, expect=0):
    e = dict(os.environ)
    e.pop("VC_SHARD_DEBUG_EXIT_AFTER_TARS", None)
    e["VCURATE_MODEL_DIR"] = "/nonexistent/vcurate-models"   # no T5 weights unless a test passes some
    e.update(env or {})
    p = subprocess.run([DRIVER] + args, capture_output=True, text=True, env=e)
    if expect is not None and p.returncode != expect:
        raise sl.CheckError("shard %s: exit %d, want %d\n%s" % (" ".join(args), p.returncode, expect, p.stderr))
    return p


def shard_args(tree, out, *extra):
    return ["--input-clip-path", tree.input, "--output-dataset-path", out, "--threads", "2"] + list(extra)


def basic_tree(tmp, short_bin=False):
    t = sl.Tree(tmp)
    t.add(1920, 1080, 30.0, 240)                      # 8 s -> 1080/16_9/5_10
    t.add(1280, 720, 30.0, 300)                       # 10 s exactly -> 5_10 (first bin wins)
    t.add(1280, 720, 30.0, 900, video="b.mp4")        # 30 s exactly -> 10_30
    t.add(1280, 720, 25.0, 1000, video="b.mp4")       # 40 s -> 30_inf
    t.add(640, 480, 24.0, 144)                        # 4:3 lt_720
    t.add(720, 1280, 30.0, 200)                       # 9_16
    t.add(1080, 1080, 30.0, 150)                      # 5.0 s exactly, 1_1, 1080
    t.add(960, 1280, 29.97002997002997, 250)          # 3_4 -> 720
    t.add(1280, 720, 30.0, 60, short_bin=short_bin)   # 2 s: too short (or duration_0_5)
    t.add(1280, 720, 30.0, 240, valid=False)          # invalid
    t.add(1280, 720, 30.0, 240, write_metas=False)    # missing metas
    t.add(1280, 720, 30.0, 240, write_mp4=False)      # missing mp4
    t.add(2000, 100, 30.0, 240)                       # ratio 20: no aspect bin
    t.add(1280, 720, 0, 240)                          # framerate 0
    moved = t.add(1280, 720, 30.0, 240, location="/nonexistent/old/place/x.mp4")  # moved split output
    t.add(1280, 720, 30.0, 240, windows=[            # one window lacks the caption -> valid:false in metas
        {"start_frame": 0, "end_frame": 100, "qwen_caption": "first"},
        {"start_frame": 101, "end_frame": 239}])
    t.add(1280, 720, 30.0, 240, extra={"aesthetic_score": float("nan"),
                                       "note": "caf\u00e9 \U0001F3AC \"q\" \\ \t\x7f"})
    mp4 = os.path.join(tmp, "real.mp4")
    sl.real_mp4(mp4)
    with open(mp4, "rb") as f:
        t.add(320, 240, 10.0, 60, content=f.read())   # a real mp4, 6 s
    # a second metas file repeating an earlier span_uuid
    dup_of = sl.clip_uuid(1)
    u = t.add(1920, 1080, 30.0, 240, extra={"span_uuid": dup_of})
    del t.expect_bin[u]
    first, later = sorted([dup_of, u])
    if first == u:  # the listed-later file keeps the key
        del t.expect_bin[dup_of]
        t.expect_bin[u] = "resolution_1080/aspect_ratio_16_9/duration_5_10"
        t.expect_left[dup_of] = "duplicate_uuid"
        # the kept sample is keyed by span_uuid == dup_of, whose file is clips/u.mp4
        raise sl.CheckError("fixture: duplicate ordering not handled")  # uuid5 order is fixed
    t.expect_left[u] = "duplicate_uuid"
    t.write_summary(duplicate=sl.clip_uuid(2))        # clip 2 listed twice: packed once
    return t, moved


def scenario_basic(tmp):
    t, _ = basic_tree(tmp)
    out = os.path.join(tmp, "out")
    p = run(shard_args(t, out))
    for reason in ("invalid", "missing_metas", "missing_mp4", "too_short", "bad_aspect_ratio",
                   "bad_framerate", "duplicate_uuid"):
        if "(%s)" % reason not in p.stderr:
            raise sl.CheckError("log does not report a clip left out as %s:\n%s" % (reason, p.stderr))
    sl.check_dataset(t, out)
    before = sl.tree_files(out)
    run(shard_args(t, out))                            # rerun: nothing changes
    if sl.tree_files(out) != before:
        raise sl.CheckError("rerun over a finished output changed it")
    out2 = os.path.join(tmp, "out2")
    run(shard_args(t, out2, "--threads", "1"))         # another run: byte-identical shards
    sl.same_tree(out, out2)


def scenario_short_bin(tmp):
    t, _ = basic_tree(tmp, short_bin=True)
    out = os.path.join(tmp, "out")
    run(shard_args(t, out, "--short-clip-bin"))
    seen = sl.check_dataset(t, out, short_bin=True)
    if "resolution_720/aspect_ratio_16_9/duration_0_5" not in seen.values():
        raise sl.CheckError("no duration_0_5 bin")


def many_tree(tmp, n=14):
    t = sl.Tree(tmp)
    for i in range(n):
        t.add(1280, 720, 30.0, 240, size=300 * 1024 + i * 1000, video="v%d.mp4" % (i % 3))
    t.add(1280, 720, 30.0, 240, size=int(2.5 * 1024 * 1024))   # larger than the target: own tar
    t.add(1920, 1080, 30.0, 600, size=100 * 1024)
    t.write_summary()
    return t


def expected_tar_sizes(t, target):
    """_group_samples_by_size over the 720/16_9/5_10 bin in sorted order."""
    sizes = [os.path.getsize(t.clip_files[u]) for u in sorted(t.expect_bin)
             if t.expect_bin[u] == "resolution_720/aspect_ratio_16_9/duration_5_10"]
    tars, cur, cur_size = [], [], 0
    for s in sizes:
        if cur and cur_size + s > target:
            tars.append(cur)
            cur, cur_size = [], 0
        cur.append(s)
        cur_size += s
    if cur:
        tars.append(cur)
    return tars


def scenario_tar_limits(tmp):
    t = many_tree(tmp)
    out = os.path.join(tmp, "out")
    run(shard_args(t, out, "--target-tar-size-mb", "1", "--max-tars-per-part", "2"))
    sl.check_dataset(t, out, target_mb=1, max_tars=2)
    want = expected_tar_sizes(t, 1024 * 1024)
    bdir = os.path.join(out, "v0", "resolution_720/aspect_ratio_16_9/duration_5_10")
    with open(os.path.join(bdir, "wdinfo.json")) as f:
        info = json.load(f)
    if len(info["data_list"]) != len(want) or len(want) < 4:
        raise sl.CheckError("tars: %s, want %d" % (info["data_list"], len(want)))
    if "part_000001/000000.tar" not in info["data_list"]:
        raise sl.CheckError("no second part: %s" % info["data_list"])


def scenario_interrupted(tmp):
    t = many_tree(tmp)
    clean = os.path.join(tmp, "clean")
    args = ["--target-tar-size-mb", "1", "--max-tars-per-part", "2"]
    run(shard_args(t, clean, *args))
    out = os.path.join(tmp, "out")
    p = run(shard_args(t, out, *args), env={"VC_SHARD_DEBUG_EXIT_AFTER_TARS": "2"}, expect=None)
    if p.returncode != -9:
        raise sl.CheckError("debug kill: exit %d\n%s" % (p.returncode, p.stderr))
    done = [f for f in sl.tree_files(out) if f.endswith(".tar")]
    total = [f for f in sl.tree_files(clean) if f.endswith(".tar")]
    if not (0 < len(done) < len(total)):
        raise sl.CheckError("after the kill %d of %d tars exist" % (len(done), len(total)))
    if os.path.exists(os.path.join(out, "v0", "wdinfo_list.csv")):
        raise sl.CheckError("wdinfo_list.csv written by an interrupted run")
    p = run(shard_args(t, out, *args))
    if "kept from an earlier run" not in p.stderr or "resuming" not in p.stderr:
        raise sl.CheckError("rerun did not resume:\n%s" % p.stderr)
    sl.check_dataset(t, out, target_mb=1, max_tars=2)
    sl.same_tree(clean, out)


def scenario_caption_mismatch(tmp):
    t = sl.Tree(tmp)
    for i in range(3):
        t.add(1280, 720, 30.0, 240, algo="cosmos_r1")
    t.write_summary()
    out = os.path.join(tmp, "out")
    p = run(shard_args(t, out), expect=1)
    if "cosmos_r1_caption" not in p.stderr or "--captioning-algorithm cosmos_r1" not in p.stderr:
        raise sl.CheckError("mismatch message unclear:\n%s" % p.stderr)
    if any(f.endswith(".tar") for f in sl.tree_files(out)):
        raise sl.CheckError("tars written despite the mismatch")
    shutil.rmtree(out)
    run(shard_args(t, out, "--captioning-algorithm", "cosmos_r1"))
    sl.check_dataset(t, out, algo="cosmos_r1")


def scenario_drop_small(tmp):
    t = sl.Tree(tmp)
    us = [t.add(1280, 720, 30.0, 240, size=400 * 1024) for _ in range(3)]
    t.write_summary()
    out = os.path.join(tmp, "out")
    # tars of 2 + 1 clips; the last one (1 < 2) is dropped and reported
    last = sorted(us)[-1]
    del t.expect_bin[last]
    t.expect_left[last] = "small_shard_dropped"
    run(shard_args(t, out, "--target-tar-size-mb", "1", "--drop-small-shards",
                   "--min-clips-per-tar", "2"))
    sl.check_dataset(t, out, target_mb=1)


def scenario_refusals(tmp):
    t = many_tree(tmp, n=3)
    out = os.path.join(tmp, "out")
    os.makedirs(os.path.join(out, "v0"))
    with open(os.path.join(out, "v0", "foreign.txt"), "w") as f:
        f.write("x")
    p = run(shard_args(t, out), expect=1)
    if "not empty" not in p.stderr:
        raise sl.CheckError("foreign output not refused clearly:\n%s" % p.stderr)
    shutil.rmtree(out)
    run(shard_args(t, out))
    t.add(1280, 720, 30.0, 240)                        # the input changes
    t.write_summary()
    p = run(shard_args(t, out), expect=1)
    if "different input or options" not in p.stderr:
        raise sl.CheckError("changed plan not refused:\n%s" % p.stderr)
    # s3:// works (tests/storage/test_s3_e2e.py); a bad bucket name or az:// is refused
    p = run(["--input-clip-path", "s3://Bad_Bucket/x", "--output-dataset-path", out], expect=1)
    if "invalid bucket name" not in p.stderr:
        raise sl.CheckError(p.stderr)
    p = run(["--input-clip-path", "az://container/x", "--output-dataset-path", out], expect=1)
    if "Azure" not in p.stderr:
        raise sl.CheckError(p.stderr)
    p = run(["--input-clip-path", os.path.join(tmp, "nope"), "--output-dataset-path", out], expect=1)
    p = run(["--input-clip-path", out, "--output-dataset-path", os.path.join(tmp, "o3")], expect=1)
    if "summary.json not found" not in p.stderr:
        raise sl.CheckError(p.stderr)
    run(["--output-dataset-path", out], expect=2)
    run(["--input-clip-path", "a", "--output-dataset-path", "b", "--max-tars-per-part", "0"], expect=2)
    run(["--input-clip-path", "a", "--output-dataset-path", "b", "--annotation-version", "../x"], expect=2)
    p = run(["--help"])
    for flag in ("--annotation-version", "--captioning-algorithm", "--max-tars-per-part",
                 "--target-tar-size-mb", "--min-clips-per-tar", "--drop-small-shards",
                 "--short-clip-bin", "--threads", "--verbose", "--t5-embeddings",
                 "--model-weights-path", "--device"):
        if flag not in p.stdout:
            raise sl.CheckError("--help does not document " + flag)


def scenario_version(tmp):
    t = many_tree(tmp, n=2)
    shutil.copytree(os.path.join(t.input, "metas", "v0"), os.path.join(t.input, "metas", "v1"))
    for u in t.metas_files:
        t.metas_files[u] = t.metas_files[u].replace("/v0/", "/v1/")
    t.embed_all("v1")
    out = os.path.join(tmp, "out")
    run(shard_args(t, out, "--annotation-version", "v1", "--limit", "3",
                   "--execution-mode", "AUTO", "--input-s3-profile-name", "default"))
    sl.check_dataset(t, out, version="v1")


def scenario_t5_sources(tmp):
    """Where t5_xxl members come from, without T5 weights: embed's files when
    their record matches the captions; otherwise a clear start-up error."""
    t = sl.Tree(tmp)
    w2 = [{"start_frame": 0, "end_frame": 99, "qwen_caption": "first window"},
          {"start_frame": 100, "end_frame": 239, "qwen_caption": "second \u00e9 window \U0001F3AC"}]
    t.add(1280, 720, 30.0, 240, windows=w2)                          # two arrays
    missing = t.add(1280, 720, 30.0, 240, embed=False)               # never embedded
    t.add(1280, 720, 30.0, 240, windows=[])                          # no windows: []
    t.add(1280, 720, 30.0, 240, windows=[{"start_frame": 0, "end_frame": 239}])   # no caption: []
    t.add(1280, 720, 30.0, 240, windows=[                             # one of two captioned
        {"start_frame": 0, "end_frame": 100},
        {"start_frame": 101, "end_frame": 239, "qwen_caption": "only this one"}])
    edited = t.add(1280, 720, 30.0, 240)
    no_pickle = t.add(1280, 720, 30.0, 240)
    reframed = t.add(1280, 720, 30.0, 240)
    t.write_summary()
    os.remove(os.path.join(t.input, "t5_xxl", "v0", "qwen", no_pickle + ".pickle"))
    for u, edit in ((edited, ("qwen_caption", "an edited caption")), (reframed, ("end_frame", 200))):
        with open(t.metas_files[u]) as f:
            m = json.load(f)
        m["windows"][0][edit[0]] = edit[1]
        with open(t.metas_files[u], "w") as f:
            json.dump(m, f, indent=4)
    out = os.path.join(tmp, "out")
    p = run(shard_args(t, out), expect=1)
    for want in ("for 4 clips", "2 never embedded, 2 whose captions changed since",
                 "vcurate embed --input-clip-path %s --captioning-algorithm qwen --annotation-version v0" % t.input,
                 "vcurate models download --models t5_xxl --encoder-only", missing, edited):
        if want not in p.stderr:
            raise sl.CheckError("missing embeddings: %r not in the message:\n%s" % (want, p.stderr))
    if any(f.endswith((".tar", ".json")) for f in sl.tree_files(out)):
        raise sl.CheckError("files written despite the start-up error")
    p = run(shard_args(t, out, "--t5-embeddings", "files", "--model-weights-path", tmp), expect=1)
    if "for 4 clips" not in p.stderr or "--t5-embeddings files" not in p.stderr:
        raise sl.CheckError("--t5-embeddings files: %s" % p.stderr)
    # --t5-embeddings empty: Cosmos' empty lists for every clip, no T5 needed
    out_empty = os.path.join(tmp, "out_empty")
    run(shard_args(t, out_empty, "--t5-embeddings", "empty"))

    def empty(k, data):
        if data != sl.EMPTY_T5:
            raise sl.CheckError("--t5-embeddings empty: %s has %d bytes" % (k, len(data)))
    sl.check_dataset(t, out_empty, t5=empty)
    # `vcurate embed` brings them up to date: every member is its file, unchanged
    t.embed_all("v0")
    p = run(shard_args(t, out))
    if "6 from vcurate embed" not in p.stderr or "0 to compute here" not in p.stderr:
        raise sl.CheckError("t5 sources not logged:\n%s" % p.stderr)
    sl.check_dataset(t, out)
    with open(os.path.join(out, "v0", "shard_summary.json")) as f:
        s5 = json.load(f)["t5_xxl"]
    if (s5["num_clips_from_embed"], s5["num_clips_computed_by_shard"], s5["num_clips_without_captions"]) != (6, 0, 2):
        raise sl.CheckError("shard_summary t5_xxl: %s" % s5)
    run(shard_args(t, out, "--t5-embeddings", "files"))             # same members: a finished rerun


SCENARIOS = [scenario_basic, scenario_short_bin, scenario_tar_limits, scenario_interrupted,
             scenario_caption_mismatch, scenario_drop_small, scenario_refusals, scenario_version,
             scenario_t5_sources]


def main():
    global DRIVER
    DRIVER = os.path.abspath(sys.argv[1])
    wanted = sys.argv[2:]
    failed = 0
    for sc in SCENARIOS:
        name = sc.__name__[len("scenario_"):]
        if wanted and name not in wanted:
            continue
        tmp = tempfile.mkdtemp(prefix="vc-shard-%s-" % name)
        t0 = time.time()
        try:
            sc(tmp)
            print("ok   %-18s %.1f s" % (name, time.time() - t0))
            shutil.rmtree(tmp)
        except Exception as e:  # report and keep the tree for inspection
            failed += 1
            print("FAIL %-18s %s: %s\n     (files kept in %s)" % (name, type(e).__name__, e, tmp))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
