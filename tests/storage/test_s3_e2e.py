#!/usr/bin/python3
"""End-to-end S3 tests against a real S3-compatible server on loopback:
OpenStack Swift with s3api (it verifies SigV4 signatures), started and
stopped here in a temp dir (tests/storage/swiftenv.py).

  * split S3 -> S3 gives the same clips, metas and records as split local -> local
  * shard S3 -> S3 gives byte-identical tars to shard of the same split locally
  * objects vcurate writes are read by boto3; objects boto3 puts (simple and
    multipart) are read by vcurate
  * a wrong secret is a clear authentication error; a missing bucket is named
  * the proxy killed and restarted during a split: retries, or at worst a
    rerun, complete the output with nothing lost or duplicated
  * resume: a rerun on an S3 output rewrites nothing
  * credentials from a ~/.aws/credentials profile (--input-s3-profile-name)

Usage: test_s3_e2e.py VCURATE S3TOOL. Exit 77 (skip) only when the Swift
packages cannot be installed.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import swiftenv  # noqa: E402

VCURATE = os.path.abspath(sys.argv[1])
S3TOOL = os.path.abspath(sys.argv[2])
BUCKET = "vc-e2e"
SPLIT_FLAGS = ["--splitting-algorithm", "content", "--transcode-encoder", "libx264",
               "--transcode-encoder-threads", "1", "--num-encoders-per-video", "1",
               "--no-progress", "--no-generate-captions"]
RESULTS = {"passed": 0, "failed": 0}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_shots(path, shots, size="320x240", rate=25):
    srcs = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "pal75bars"]
    args, filt = [], ""
    for i, d in enumerate(shots):
        args += ["-f", "lavfi", "-i", f"{srcs[i % len(srcs)]}=size={size}:rate={rate}:duration={d}"]
        filt += f"[{i}:v]"
    filt += f"concat=n={len(shots)}:v=1:a=0,format=yuv420p[v]"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ffmpeg(*args, "-f", "lavfi", "-i", f"sine=frequency=440:duration={sum(shots)}",
           "-filter_complex", filt, "-map", "[v]", "-map", f"{len(shots)}:a", "-c:a", "aac",
           "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", path)


def run(args, env, check_rc=None, timeout=300):
    if args and args[0] == "split" and "--no-generate-captions" not in args:
        args = [*args, "--no-generate-captions"]   # captions are on by default; tests/caption covers them
    p = subprocess.run([VCURATE, *args], capture_output=True, text=True, env=env, timeout=timeout)
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError(f"vcurate {' '.join(args)}: exit {p.returncode} != {check_rc}\n"
                             f"stderr:{p.stderr[-4000:]}")
    return p


def case(fn):
    try:
        fn()
        RESULTS["passed"] += 1
        print(f"PASS {fn.__name__}", flush=True)
    except Exception:
        RESULTS["failed"] += 1
        print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)


def list_keys(s3, prefix):
    keys = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            keys[o["Key"][len(prefix):]] = o
    return keys


def download(s3, prefix, dest):
    for rel in list_keys(s3, prefix):
        p = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(s3.get_object(Bucket=BUCKET, Key=prefix + rel)["Body"].read())


def upload_tree(s3, src, prefix):
    for d, _, files in os.walk(src):
        for f in files:
            p = os.path.join(d, f)
            s3.upload_file(p, BUCKET, prefix + os.path.relpath(p, src))


def tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = p
    return out


def load(p):
    with open(p) as f:
        return json.load(f)


def metas_by_span(root):
    """{(relative source video, span): meta} of a split output."""
    out = {}
    for rel, p in tree(root).items():
        if rel.startswith("metas/v0/"):
            m = load(p)
            src = m["source_video"]
            src_rel = src.split("/in/", 1)[1] if "/in/" in src else src
            out[(src_rel, tuple(m["duration_span"]))] = m
    return out


def compare_split(local_root, s3_root, local_in, s3_in):
    lt, st = tree(local_root), tree(s3_root)
    strip = lambda t: sorted(r for r in t if not r.startswith(("clips/", "metas/")))  # noqa: E731
    # records are keyed by the video's relative path: same set of files
    assert strip(lt) == strip(st), (strip(lt), strip(st))
    lm, sm = metas_by_span(local_root), metas_by_span(s3_root)
    assert sorted(lm) == sorted(sm), (sorted(lm), sorted(sm))
    assert len(lm) >= 3
    for k, m in lm.items():
        s = sm[k]
        assert s["source_video"].startswith("s3://"), s["source_video"]
        assert s["clip_location"] == f"{s3_in.rsplit('/in', 1)[0]}/out-s3/clips/{s['span_uuid']}.mp4" \
            or s["clip_location"].startswith("s3://"), s["clip_location"]
        for key in m:
            if key not in ("span_uuid", "source_video", "clip_location"):
                assert m[key] == s[key], (k, key, m[key], s[key])
        # the clips themselves: byte for byte (deterministic encoder settings)
        a = open(os.path.join(local_root, "clips", m["span_uuid"] + ".mp4"), "rb").read()
        b = open(os.path.join(s3_root, "clips", s["span_uuid"] + ".mp4"), "rb").read()
        assert a == b, f"clip {k} differs"
    for rel in lt:
        if rel.startswith("processed_videos/"):
            a, b = load(lt[rel]), load(st[rel])
            assert a["num_clip_chunks"] == b["num_clip_chunks"]
            assert a.get("num_total_clips") == b.get("num_total_clips")
    ls, ss = load(lt["summary.json"]), load(st["summary.json"])
    for key in ("num_input_videos", "num_processed_videos", "total_num_clips_passed"):
        assert ls.get(key) == ss.get(key), (key, ls.get(key), ss.get(key))


def tar_members(path):
    with tarfile.open(path) as t:
        return [(m.name, m.size, t.extractfile(m).read()) for m in t.getmembers()]


def main():
    if not swiftenv.install():
        print("SKIP: the swift/memcached/python3-boto3 packages cannot be installed here")
        return 77
    tmp = tempfile.mkdtemp(prefix="vc-s3-e2e-")
    try:
        return run_all(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(tmp):
    t0 = time.time()
    os.chmod(tmp, 0o755)
    with swiftenv.SwiftS3(os.path.join(tmp, "swift")) as server:
        print(f"swift up at {server.endpoint} in {time.time() - t0:.1f} s", flush=True)
        env = server.env()
        env["VCURATE_S3_CACHE_DIR"] = os.path.join(tmp, "cache")
        s3 = server.boto3()
        s3.create_bucket(Bucket=BUCKET)
        local_in = os.path.join(tmp, "in")
        make_shots(os.path.join(local_in, "a.mp4"), [6, 7])
        make_shots(os.path.join(local_in, "sub dir", "b+c.mp4"), [8])
        with open(os.path.join(local_in, "broken.mp4"), "wb") as f:
            f.write(os.urandom(3000))
        upload_tree(s3, local_in, "in/")          # objects put by boto3 ...
        s3_in = f"s3://{BUCKET}/in"
        out_local = os.path.join(tmp, "out-local")
        out_s3 = f"s3://{BUCKET}/out-s3"

        def split_s3_vs_local():
            run(["split", "--input-video-path", local_in, "--output-clip-path", out_local,
                 *SPLIT_FLAGS], env, check_rc=1)   # 1: broken.mp4 fails, as it should
            p = run(["split", "--input-video-path", s3_in, "--output-clip-path", out_s3,
                     *SPLIT_FLAGS], env, check_rc=1)  # ... are read by vcurate
            assert "broken.mp4" in p.stderr
            got = os.path.join(tmp, "out-s3-dl")
            download(s3, "out-s3/", got)               # objects vcurate wrote, read by boto3
            compare_split(out_local, got, local_in, s3_in)
        case(split_s3_vs_local)

        def resume_rewrites_nothing():
            before = {k: o["ETag"] + str(o["LastModified"]) for k, o in list_keys(s3, "out-s3/").items()
                      if not k.startswith(("summary.json", "v0/"))}
            p = run(["split", "--input-video-path", s3_in, "--output-clip-path", out_s3,
                     *SPLIT_FLAGS], env)
            assert "2 already processed" in p.stderr, p.stderr[-2000:]
            after = {k: o["ETag"] + str(o["LastModified"]) for k, o in list_keys(s3, "out-s3/").items()
                     if not k.startswith(("summary.json", "v0/"))}
            video_errors = [k for k in after if k.startswith("video_errors/")]
            assert {k: v for k, v in after.items() if k not in video_errors} == \
                   {k: v for k, v in before.items() if k not in video_errors}
            assert "summary.json.bak1" in list_keys(s3, "out-s3/")   # previous summary kept
        case(resume_rewrites_nothing)

        def shard_s3_vs_local():
            got = os.path.join(tmp, "out-s3-dl")
            ds_local = os.path.join(tmp, "ds-local")
            run(["shard", "--input-clip-path", got, "--output-dataset-path", ds_local], env,
                check_rc=0)
            run(["shard", "--input-clip-path", out_s3, "--output-dataset-path",
                 f"s3://{BUCKET}/ds-s3"], env, check_rc=0)
            ds_s3 = os.path.join(tmp, "ds-s3-dl")
            download(s3, "ds-s3/", ds_s3)
            lt, st = tree(ds_local), tree(ds_s3)
            assert sorted(lt) == sorted(st), (sorted(lt), sorted(st))
            tars = [r for r in lt if r.endswith(".tar")]
            assert len(tars) >= 3, tars
            for rel in tars:
                assert open(lt[rel], "rb").read() == open(st[rel], "rb").read(), rel
                assert tar_members(st[rel])
            for rel in lt:
                if rel.endswith("wdinfo.json"):
                    a, b = load(lt[rel]), load(st[rel])
                    assert b["root"].startswith("s3://"), b["root"]
                    a.pop("root"), b.pop("root")
                    assert a == b, rel
            # resume: a rerun keeps every tar
            p = run(["shard", "--input-clip-path", out_s3, "--output-dataset-path",
                     f"s3://{BUCKET}/ds-s3"], env, check_rc=0)
            assert "0 files written" in p.stderr, p.stderr[-1500:]
        case(shard_s3_vs_local)

        def multipart_both_ways():
            data = os.urandom(12 * 1024 * 1024 + 12345)
            src = os.path.join(tmp, "blob")
            with open(src, "wb") as f:
                f.write(data)
            e = dict(env, VCURATE_S3_PART_MB="5")
            subprocess.run([S3TOOL, "cp", src, f"s3://{BUCKET}/blob/a b.bin"], env=e, check=True)
            got = s3.get_object(Bucket=BUCKET, Key="blob/a b.bin")["Body"].read()
            assert got == data
            assert "-" in s3.head_object(Bucket=BUCKET, Key="blob/a b.bin")["ETag"]  # multipart
            from boto3.s3.transfer import TransferConfig
            s3.upload_fileobj(io.BytesIO(data), BUCKET, "blob/boto.bin",
                              Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
            out = os.path.join(tmp, "blob2")
            e["VCURATE_S3_READ_BLOCK_KB"] = "1000"   # many ranged GETs
            subprocess.run([S3TOOL, "cp", f"s3://{BUCKET}/blob/boto.bin", out], env=e, check=True)
            assert open(out, "rb").read() == data
            ls = subprocess.run([S3TOOL, "ls", f"s3://{BUCKET}/blob"], env=e, check=True,
                                capture_output=True, text=True).stdout.split("\n")[:-1]
            assert ls == [f"s3://{BUCKET}/blob/a b.bin", f"s3://{BUCKET}/blob/boto.bin"], ls
        case(multipart_both_ways)

        def multipart_growing_parts_reused_buffers():
            # 16 parts of 5 MiB, then parts of 10 MiB: the part size grows and
            # part buffers are reused (2 in flight); both the in-place path
            # (a file read straight into part buffers) and write() (stdin and
            # S3TOOL_COPY) must upload the same bytes, each part signed.
            data = os.urandom(95 * 1024 * 1024 + 4321)
            src = os.path.join(tmp, "blob-big")
            with open(src, "wb") as f:
                f.write(data)
            e = dict(env, VCURATE_S3_PART_MB="5", VCURATE_S3_PARTS_IN_FLIGHT="2",
                     VCURATE_S3_TRACE="1")
            for key, extra, stdin in (("direct", {}, None), ("copy", {"S3TOOL_COPY": "1"}, None),
                                      ("stdin", {}, src)):
                with open(stdin, "rb") if stdin else open(os.devnull, "rb") as fin:
                    p = subprocess.run([S3TOOL, "cp", "-" if stdin else src, f"s3://{BUCKET}/big/{key}"],
                                       env=dict(e, **extra), stdin=fin, check=True,
                                       capture_output=True, text=True)
                assert "in 18 parts" in p.stderr, p.stderr[-2000:]
                assert "SHA-256 of" in p.stderr, p.stderr[-2000:]   # http: payloads signed
                got = s3.get_object(Bucket=BUCKET, Key=f"big/{key}")["Body"].read()
                assert got == data, key
                assert s3.head_object(Bucket=BUCKET, Key=f"big/{key}")["ETag"].endswith('-18"')
                s3.delete_object(Bucket=BUCKET, Key=f"big/{key}")
        case(multipart_growing_parts_reused_buffers)

        def listing_pagination_and_order():
            names = [f"p/{i:04d}/x.json" for i in range(1100)] + ["p/a.json", "p/Z.json", "p/_.json"]
            def put(chunk):
                for n in chunk:
                    s3.put_object(Bucket=BUCKET, Key=n, Body=b"{}")
            th = [threading.Thread(target=put, args=(names[i::8],)) for i in range(8)]
            [t.start() for t in th]
            [t.join() for t in th]
            ls = subprocess.run([S3TOOL, "ls", f"s3://{BUCKET}/p"], env=env, check=True,
                                capture_output=True, text=True).stdout.split("\n")[:-1]
            assert ls == sorted(f"s3://{BUCKET}/{n}" for n in names), (len(ls), ls[:5])
        case(listing_pagination_and_order)

        def wrong_secret_is_auth_error():
            bad = dict(env, AWS_SECRET_ACCESS_KEY="not-the-secret")
            p = run(["split", "--input-video-path", s3_in, "--output-clip-path",
                     f"s3://{BUCKET}/never", *SPLIT_FLAGS], bad)
            assert p.returncode in (2, 3), p.returncode
            assert "authentication failed" in p.stderr and "SignatureDoesNotMatch" in p.stderr, p.stderr
            assert "not-the-secret" not in p.stderr
            p = run(["shard", "--input-clip-path", out_s3, "--output-dataset-path",
                     f"s3://{BUCKET}/never"], bad)
            assert p.returncode == 1 and "authentication failed" in p.stderr, p.stderr
            p = run(["split", "--input-video-path", f"s3://no-such-bucket/in",
                     "--output-clip-path", f"s3://{BUCKET}/never", *SPLIT_FLAGS], env)
            assert p.returncode == 2 and "no-such-bucket" in p.stderr and "does not exist" in p.stderr, p.stderr
            p = run(["split", "--input-video-path", f"s3://Bad_Bucket/in",
                     "--output-clip-path", out_local + "-x", *SPLIT_FLAGS], env)
            assert p.returncode == 2 and "invalid bucket name" in p.stderr, p.stderr
            assert not list_keys(s3, "never/")
        case(wrong_secret_is_auth_error)

        def credentials_profile():
            creds = os.path.join(tmp, "aws-credentials")
            with open(creds, "w") as f:
                f.write("[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n\n"
                        f"[swift]\naws_access_key_id = {swiftenv.ACCESS_KEY}\n"
                        f"aws_secret_access_key = {swiftenv.SECRET_KEY}\n")
            conf = os.path.join(tmp, "aws-config")
            with open(conf, "w") as f:
                # loopback only, for the default profile too (it must fail, not go out)
                f.write(f"[default]\nendpoint_url = {server.endpoint}\n\n"
                        f"[profile swift]\nregion = us-east-1\nendpoint_url = {server.endpoint}\n"
                        "s3 =\n    addressing_style = path\n")
            e = {k: v for k, v in env.items() if not k.startswith("AWS_")}
            e.update(AWS_SHARED_CREDENTIALS_FILE=creds, AWS_CONFIG_FILE=conf)
            run(["shard", "--input-clip-path", out_s3, "--input-s3-profile-name", "swift",
                 "--output-dataset-path", os.path.join(tmp, "ds-profile")], e, check_rc=0)
            p = run(["shard", "--input-clip-path", out_s3,
                     "--output-dataset-path", os.path.join(tmp, "ds-noprofile")], e)
            assert p.returncode == 1 and "authentication failed" in p.stderr, p.stderr  # Swift: unknown user = bad signature
        case(credentials_profile)

        def server_restart_mid_run():
            # more work, so the outage lands in the middle of the run
            for i in range(4):
                make_shots(os.path.join(tmp, "in2", f"v{i}.mp4"), [6, 6])
            upload_tree(s3, os.path.join(tmp, "in2"), "in2/")
            out = f"s3://{BUCKET}/out-restart"
            args = ["split", "--input-video-path", f"s3://{BUCKET}/in2", "--output-clip-path", out,
                    *SPLIT_FLAGS]
            proc = subprocess.Popen([VCURATE, *args], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            time.sleep(2.0)
            server.restart_proxy(down_s=2.0)        # kill -9, 2 s down, start again
            _, err = proc.communicate(timeout=300)
            if proc.returncode != 0:                 # at worst, a rerun completes the output
                print(f"  first run exit {proc.returncode}; rerunning", flush=True)
                run(args, env, check_rc=0)
            # compare with a clean run on local disk: nothing lost, nothing twice
            ref = os.path.join(tmp, "out-restart-ref")
            run(["split", "--input-video-path", os.path.join(tmp, "in2"), "--output-clip-path",
                 ref, *SPLIT_FLAGS], env, check_rc=0)
            got = os.path.join(tmp, "out-restart-dl")
            download(s3, "out-restart/", got)
            rt, gt = tree(ref), tree(got)
            names = lambda t: sorted(r for r in t if not r.startswith(("clips/", "metas/", "summary.json")))  # noqa: E731
            assert names(rt) == names(gt), (names(rt), names(gt))
            assert len([r for r in gt if r.startswith("clips/")]) == len([r for r in rt if r.startswith("clips/")])
            assert len([r for r in gt if r.startswith("metas/")]) == len([r for r in rt if r.startswith("metas/")])
            summary = load(gt["summary.json"])
            assert summary["num_processed_videos"] == 4, summary
            for rel, p in gt.items():
                if rel.startswith("metas/v0/"):
                    m = load(p)
                    clip = os.path.join(got, "clips", m["span_uuid"] + ".mp4")
                    assert os.path.getsize(clip) == m["num_bytes"], rel
        case(server_restart_mid_run)

    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed in {time.time() - t0:.0f} s")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
