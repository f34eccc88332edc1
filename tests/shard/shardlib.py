"""Fixtures and WebDataset-style checks for the shard e2e tests.

make_split_tree() writes a fake `split` output (summary.json, metas/v0/*.json
written as Cosmos writes them, clip files), and returns what a correct shard
must do with each clip, computed here independently of the C code. check_dataset()
then reads the shards back the way a WebDataset loader does (tarfile, json,
pickle + numpy) and compares.
"""
import csv
import hashlib
import io
import json
import math
import os
import pickle
import random
import subprocess
import tarfile
import uuid as uuidlib

TAR_MTIME = 1704067200
EMPTY_T5 = b"\x80\x04]\x94."          # pickle.dumps([], protocol=4)


def window_captions(meta, algo):
    """The captions a clip's t5_xxl member holds one array each for: the
    string "{algo}_caption" of each window, in order (Cosmos' T5StageForShard)."""
    key = algo + "_caption"
    return [w[key] for w in meta.get("windows", []) if isinstance(w.get(key), str)]


def embed_record(meta, algo, version):
    """The {uuid}.json `vcurate embed` writes beside its pickle."""
    key = algo + "_caption"
    wins = [{"start_frame": w.get("start_frame", 0) if isinstance(w.get("start_frame"), int) else 0,
             "end_frame": w.get("end_frame", 0) if isinstance(w.get("end_frame"), int) else 0,
             "caption_sha256": hashlib.sha256(w[key].encode("utf-8", "surrogatepass")).hexdigest()}
            for w in meta.get("windows", []) if isinstance(w.get(key), str)]
    return {"format": "vcurate-t5-embeddings-1", "model": "google-t5/t5-11b encoder, fp32, float16 output",
            "d_model": 8, "captioning_algorithm": algo, "annotation_version": version, "windows": wins}


def fake_t5_pickle(captions, seed):
    """A stand-in for embed's pickle: [float16 [L, 8] per caption]."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return pickle.dumps([rng.standard_normal((len(c.split()) + 1, 8)).astype(np.float16)
                         for c in captions], protocol=4)


def write_embeddings(split_dir, uuid, meta, version="v0", algo="qwen"):
    """What `vcurate embed` leaves for one clip (nothing when it has no
    captions). Returns the pickle bytes, or None."""
    caps = window_captions(meta, algo)
    if not caps:
        return None
    d = os.path.join(split_dir, "t5_xxl", version, algo)
    os.makedirs(d, exist_ok=True)
    data = fake_t5_pickle(caps, random.Random(uuid + version + algo).randrange(1 << 30))
    with open(os.path.join(d, uuid + ".pickle"), "wb") as f:
        f.write(data)
    with open(os.path.join(d, uuid + ".json"), "w") as f:
        json.dump(embed_record(meta, algo, version), f, indent=2)
    return data


def clip_uuid(n):
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "clip-%d" % n))


def expected_bin(w, h, frames, fps, short_bin=False):
    """Cosmos's ResolutionAspectRatioFramesBinsSpec, written out directly."""
    if not fps or fps <= 0:
        return None, "bad_framerate"
    r = w / h
    ar = None
    for lo, hi, name in [(0, 0.65, "9_16"), (0.65, 0.88, "3_4"), (0.88, 1.16, "1_1"),
                         (1.16, 1.55, "4_3"), (1.55, 10, "16_9")]:
        if lo < r <= hi:
            ar = name
            break
    if ar is None:
        return None, "bad_aspect_ratio"
    dur = frames / fps
    if 5 <= dur <= 10:
        d = "5_10"
    elif 10 <= dur <= 30:
        d = "10_30"
    elif 30 <= dur <= 2**63 - 1:
        d = "30_inf"
    elif short_bin and 0 <= dur < 5:
        d = "0_5"
    else:
        return None, "too_short"
    m = min(w, h)
    res = "1080" if m >= 1080 else "720" if m >= 720 else "lt_720"
    return "resolution_%s/aspect_ratio_%s/duration_%s" % (res, ar, d), None


def real_mp4(path):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=10", "-t", "6", "-pix_fmt", "yuv420p",
                    "-c:v", "libx264", path], check=True)


def make_metas(u, clip_path, w, h, fps, frames, nbytes, valid=True, algo="qwen",
               windows=None, extra=None):
    m = {
        "span_uuid": u,
        "source_video": "/data/raw/video-%s.mp4" % u[:4],
        "duration_span": [0.5, 0.5 + frames / fps if fps else 0.5],
        "width_source": w, "height_source": h, "framerate_source": fps,
        "clip_location": clip_path,
        "width": w, "height": h, "framerate": fps, "num_frames": frames,
        "video_codec": "h264", "num_bytes": nbytes,
        "motion_score": {"global_mean": 0.0021, "per_patch_min_256": 4e-05},
        "aesthetic_score": 4.81,
    }
    if windows is None:
        windows = [{"start_frame": 0, "end_frame": frames - 1,
                    algo + "_caption": "The video shows clip %s." % u[:8],
                    algo + "_prompt_tokens": 5001, algo + "_output_tokens": 495}]
    m["windows"] = windows
    m["filtered_windows"] = []
    m["valid"] = valid
    m["has_caption"] = bool(windows)
    m["total_prompt_tokens"] = 5001
    m["total_output_tokens"] = 495
    if extra:
        m.update(extra)
    return m


class Tree:
    """A fake split output and what shard should make of it."""

    def __init__(self, root):
        self.root = root
        self.input = os.path.join(root, "split")
        self.videos = {}          # video relpath -> [clip uuids]
        self.expect_bin = {}      # uuid -> bin rel path
        self.expect_left = {}     # listed uuid -> reason
        self.clip_files = {}      # uuid -> mp4 path
        self.metas_files = {}     # uuid -> metas path
        self.n = 0
        os.makedirs(os.path.join(self.input, "metas", "v0"), exist_ok=True)
        os.makedirs(os.path.join(self.input, "clips"), exist_ok=True)

    def add(self, w, h, fps, frames, size=20000, video="a.mp4", valid=True, algo="qwen",
            windows=None, extra=None, write_metas=True, write_mp4=True, location=None,
            short_bin=False, content=None, reason=None, embed=True):
        self.n += 1
        u = clip_uuid(self.n)
        clip_path = os.path.join(self.input, "clips", u + ".mp4")
        if content is None:
            content = os.urandom(size)
        if write_mp4:
            with open(clip_path, "wb") as f:
                f.write(content)
        meta = make_metas(u, location or clip_path, w, h, fps, frames, len(content), valid,
                          algo, windows, extra)
        mpath = os.path.join(self.input, "metas", "v0", u + ".json")
        if write_metas:
            with open(mpath, "w") as f:
                json.dump(meta, f, indent=4)
            if embed:
                write_embeddings(self.input, u, meta, "v0", algo)
        self.videos.setdefault(video, []).append(u)
        self.clip_files[u] = clip_path
        self.metas_files[u] = mpath
        if reason:
            self.expect_left[u] = reason
        elif not valid:
            self.expect_left[u] = "invalid"
        elif not write_metas:
            self.expect_left[u] = "missing_metas"
        elif not write_mp4:
            self.expect_left[u] = "missing_mp4"
        else:
            b, why = expected_bin(w, h, frames, fps, short_bin)
            if b:
                self.expect_bin[u] = b
            else:
                self.expect_left[u] = why
        return u

    def embed_all(self, version, algo="qwen"):
        """`vcurate embed` over metas/{version}/ (fake arrays)."""
        d = os.path.join(self.input, "metas", version)
        for fn in sorted(os.listdir(d)):
            with open(os.path.join(d, fn)) as f:
                write_embeddings(self.input, fn[:-5], json.load(f), version, algo)

    def expected_t5(self, u, version="v0", algo="qwen"):
        """The t5_xxl member shard must pack: embed's file, or [] without captions."""
        with open(self.metas_files[u]) as f:
            meta = json.load(f)
        if not window_captions(meta, algo):
            return EMPTY_T5
        with open(os.path.join(self.input, "t5_xxl", version, algo, u + ".pickle"), "rb") as f:
            return f.read()

    def write_summary(self, duplicate=None):
        s = {"num_input_videos": len(self.videos), "total_video_duration": 123.5,
             "embedding_algorithm": "internvideo2"}
        for v, clips in sorted(self.videos.items()):
            s[v] = {"source_video": "/data/raw/" + v, "video_uuid": "x", "num_clip_chunks": 1,
                    "num_total_clips": len(clips), "clips": list(clips), "filtered_clips": []}
        if duplicate:
            s["zz_dup.mp4"] = {"source_video": "/x", "clips": [duplicate]}
        s["unprocessed.mp4"] = {"source_video": "/data/raw/unprocessed.mp4", "processed": False}
        with open(os.path.join(self.input, "summary.json"), "w") as f:
            json.dump(s, f, indent=4)


class CheckError(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise CheckError(msg)


def read_tar(path):
    """Members as a WebDataset reader sees them, with the header facts."""
    with open(path, "rb") as f:
        data = f.read()
    require(len(data) % 10240 == 0, "%s: size %d is not a multiple of 10240" % (path, len(data)))
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
        for m in t:
            require(m.isfile(), "%s: %s is not a regular file" % (path, m.name))
            require(m.mode == 0o444, "%s: %s mode %o" % (path, m.name, m.mode))
            require(m.uname == "bigdata" and m.gname == "bigdata", "%s: owner names" % path)
            require(m.uid == 0 and m.gid == 0, "%s: uid/gid" % path)
            require(m.mtime == TAR_MTIME, "%s: mtime %s" % (path, m.mtime))
            require(not m.pax_headers, "%s: unexpected pax headers" % path)
            key, _, ext = m.name.partition(".")
            out.append((key, ext, t.extractfile(m).read()))
    return out


def group_samples(members, path):
    """webdataset.tariterators.group_by_keys: contiguous members per key."""
    samples = []
    for key, ext, data in members:
        if samples and samples[-1]["__key__"] == key:
            require(ext not in samples[-1], "%s: duplicate %s for %s" % (path, ext, key))
            samples[-1][ext] = data
        else:
            require(all(s["__key__"] != key for s in samples),
                    "%s: sample %s is not contiguous" % (path, key))
            samples.append({"__key__": key, ext: data})
    return samples


def python_metas_member(metas_path, algo):
    with open(metas_path) as f:
        m = json.load(f)
    if any(algo + "_caption" not in w for w in m.get("windows", [])):
        m["valid"] = False
    return json.dumps(m).encode()


def check_dataset(tree, out, version="v0", algo="qwen", target_mb=500, max_tars=100,
                  short_bin=False, t5=None):
    """t5(uuid, member bytes) checks each t5_xxl member; by default it must
    be embed's file for the clip (Tree.expected_t5)."""
    """Everything a WebDataset consumer and the Cosmos layout promise."""
    vroot = os.path.join(out, version)
    bins = {}
    for dirpath, dirnames, filenames in os.walk(vroot):
        for fn in filenames:
            require(not fn.startswith(".") or fn == ".vcurate-shard-state.json",
                    "leftover temporary file %s" % os.path.join(dirpath, fn))
        if os.path.basename(dirpath) == "video":
            bins[os.path.relpath(os.path.dirname(dirpath), vroot)] = os.path.dirname(dirpath)
    seen = {}
    require(pickle.dumps([], protocol=4) == EMPTY_T5, "EMPTY_T5")
    for rel, bdir in sorted(bins.items()):
        tars = sorted(os.path.relpath(os.path.join(d, f), os.path.join(bdir, "video"))
                      for d, _, fs in os.walk(os.path.join(bdir, "video")) for f in fs)
        for fam in ("metas", "t5_xxl"):
            other = sorted(os.path.relpath(os.path.join(d, f), os.path.join(bdir, fam))
                           for d, _, fs in os.walk(os.path.join(bdir, fam)) for f in fs)
            require(other == tars, "%s: %s tars differ from video tars" % (rel, fam))
        # numbering: part_{p:06d}/{t:06d}.tar, contiguous, max_tars per part
        for i, t in enumerate(tars):
            require(t == "part_%06d/%06d.tar" % (i // max_tars, i % max_tars),
                    "%s: tar %d is %s" % (rel, i, t))
        total = 0
        for t in tars:
            fams = {}
            for fam, ext in (("video", "mp4"), ("metas", "json"), ("t5_xxl", "pickle")):
                p = os.path.join(bdir, fam, t)
                samples = group_samples(read_tar(p), p)
                for s in samples:
                    require(set(s) == {"__key__", ext}, "%s: sample %s has %s" % (p, s["__key__"], sorted(s)))
                fams[fam] = samples
            keys = [s["__key__"] for s in fams["video"]]
            for fam in ("metas", "t5_xxl"):
                require([s["__key__"] for s in fams[fam]] == keys,
                        "%s/%s: keys differ between video and %s" % (rel, t, fam))
            require(keys == sorted(keys), "%s/%s: samples not in sorted uuid order" % (rel, t))
            size = 0
            for sv, sm, st in zip(fams["video"], fams["metas"], fams["t5_xxl"]):
                k = sv["__key__"]
                require(k not in seen, "clip %s packed twice (%s and %s/%s)" % (k, seen.get(k), rel, t))
                seen[k] = rel
                with open(tree.clip_files[k], "rb") as f:
                    require(sv["mp4"] == f.read(), "%s: mp4 bytes of %s differ" % (t, k))
                size += len(sv["mp4"])
                want = python_metas_member(tree.metas_files[k], algo)
                require(sm["json"] == want, "%s: metas of %s differ:\n%s\n%s" % (t, k, sm["json"][:300], want[:300]))
                json.loads(sm["json"])
                if t5:
                    t5(k, st["pickle"])
                else:
                    require(st["pickle"] == tree.expected_t5(k, version, algo),
                            "%s: t5 pickle of %s is not embed's file" % (t, k))
                    require(isinstance(pickle.loads(st["pickle"]), list), "t5 member not a list")
            require(size <= target_mb * 1024 * 1024 or len(keys) == 1,
                    "%s/%s: %d clip bytes exceed the %d MiB target" % (rel, t, size, target_mb))
            total += len(keys)
        # wdinfo.json, exactly as Cosmos's json.dumps(indent=4)
        want = {"data_keys": ["video", "t5_xxl", "metas"], "chunk_size": max_tars,
                "data_list": tars, "root": str(__import__("pathlib").Path(vroot, rel)),
                "total_key_count": total}
        with open(os.path.join(bdir, "wdinfo.json"), "rb") as f:
            got = f.read()
        require(got == json.dumps(want, indent=4).encode(), "%s/wdinfo.json:\n%s" % (rel, got.decode()))
    # every expected clip in its bin, nothing else
    for u, b in tree.expect_bin.items():
        require(seen.get(u) == b, "clip %s expected in %s, found in %s" % (u, b, seen.get(u)))
    require(set(seen) == set(tree.expect_bin), "unexpected clips: %s" % (set(seen) - set(tree.expect_bin)))
    # wdinfo_list.csv: csv rows of wdinfo paths, \r\n
    with open(os.path.join(vroot, "wdinfo_list.csv"), newline="") as f:
        text = f.read()
    rows = list(csv.reader(io.StringIO(text)))
    require(sorted(r[0] for r in rows) == sorted(str(__import__("pathlib").Path(vroot, b, "wdinfo.json")) for b in bins),
            "wdinfo_list.csv rows: %s" % rows)
    require(text.endswith("\r\n") or not rows, "wdinfo_list.csv line ends")
    # shard_summary.json: every left-out clip with its reason
    with open(os.path.join(vroot, "shard_summary.json")) as f:
        summ = json.load(f)
    got = {e["clip"]: e["reason"] for e in summ["left_out"]}
    require(got == tree.expect_left, "left out: got %s\nwant %s" % (got, tree.expect_left))
    require(summ["num_clips_sharded"] == len(tree.expect_bin), "num_clips_sharded")
    return seen


def tree_files(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def same_tree(a, b):
    """Byte-identical outputs; wdinfo files name their own root, so map b's to a's."""
    fa, fb = tree_files(a), tree_files(b)
    require(sorted(fa) == sorted(fb), "file sets differ: %s" % (set(fa) ^ set(fb)))
    for k in fa:
        vb = fb[k]
        if k.endswith(("wdinfo.json", "wdinfo_list.csv", "shard_summary.json")):
            vb = vb.replace(b.encode(), a.encode())
        require(fa[k] == vb, "%s differs between %s and %s" % (k, a, b))
