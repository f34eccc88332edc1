#!/usr/bin/python3
"""CPU benchmark of vcurate's T5 encoder against the PyTorch reference
(tests/reference/t5_ref.py), same random weights, same captions, same batch,
same thread count; and loading: vcurate's open (maps the checkpoint, reads
only encoder.* and shared.weight) against torch.load of the same
pytorch_model.bin (what transformers / Cosmos Curator do before dropping the
decoder).

  bench_t5_cpu.py T5_RUN [--layers 2] [--captions 32] [--batch 16] [--threads 2] [--workdir DIR]

Shapes are t5-11b's per layer (d_model 1024, 128 heads of 128, d_ff 65536),
with --layers of the 24 (time per layer is what scales), decoder included in
the file. Prints a markdown table."""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import t5_ref as ref  # noqa: E402


def child_load(path):
    """torch.load in a fresh process: seconds and peak RSS (MiB)."""
    code = ("import resource,time,torch,sys;t=time.time();sd=torch.load(sys.argv[1],map_location='cpu');"
            "enc={k:v for k,v in sd.items() if k.startswith('encoder.') or k=='shared.weight'};"
            "print(time.time()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)")
    out = subprocess.run(["/usr/bin/python3", "-c", code, path], capture_output=True, text=True, check=True)
    t, rss = out.stdout.split()
    return float(t), float(rss)


def drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("t5_run")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--captions", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = ref.default_config(num_layers=a.layers, num_decoder_layers=a.layers)
    rng = np.random.default_rng(0)
    lens = [int(x) for x in rng.integers(80, 320, a.captions)]   # VLM captions: ~100-300 T5 tokens
    seqs = [[int(t) for t in rng.integers(3, 32000, n - 1)] + [1] for n in lens]
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        folder = os.path.join(tmp, "t5")
        t0 = time.time()
        sd = ref.random_state_dict(cfg, seed=0)
        ref.save_hf_folder(folder, cfg, sd, st_name=None)
        binp = os.path.join(folder, "pytorch_model.bin")
        size = os.path.getsize(binp)
        print(f"# checkpoint {size / 2**30:.2f} GiB written in {time.time() - t0:.0f} s", file=sys.stderr)
        model = ref.T5EncoderRef(cfg, sd)
        del sd

        ids_json = os.path.join(tmp, "ids.json")
        with open(ids_json, "w") as f:
            json.dump(seqs, f)
        out, names = os.path.join(tmp, "out.f32"), os.path.join(tmp, "names.txt")

        def c_run(cold):
            if cold:
                drop_cache(binp)
            t = time.time()
            r = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", a.t5_run, "enc", folder, binp, ids_json,
                                out, names, str(a.threads), str(a.batch)], capture_output=True, text=True, check=True)
            wall = time.time() - t
            kv = dict(x.split("=", 1) for x in r.stderr.split() if "=" in x)
            return wall, float(kv["open_s"]), float(kv["encode_s"]), float(kv["maxrss_kb"]) / 1024

        c_cold = c_run(True)
        c_warm = min((c_run(False) for _ in range(2)), key=lambda r: r[2])
        got = np.fromfile(out, dtype=np.float32)

        def ref_run(pad_to):
            t = time.time()
            res = []
            for i in range(0, len(seqs), a.batch):
                res += ref.encode_padded(model, seqs[i:i + a.batch], pad_to=pad_to)
            return time.time() - t, res
        t_512, want = ref_run(512)
        t_long, _ = ref_run(None)
        flat = np.concatenate([w.reshape(-1) for w in want])
        err = float(np.abs(got - flat).max() / np.abs(flat).max())

        drop_cache(binp)
        tl_cold, rss_cold = child_load(binp)
        tl_warm, rss_warm = child_load(binp)

    n = len(seqs)
    print(f"| T5 encoder, t5-11b layer shapes, {a.layers} of 24 layers, fp32 CPU, {a.threads} threads | value |")
    print("|---|---|")
    print(f"| checkpoint (pytorch_model.bin with decoder) | {size / 2**30:.2f} GiB |")
    print(f"| captions, tokens (80..320 each), batch | {n}, {sum(lens)}, {a.batch} |")
    print(f"| vcurate encode | {c_warm[2]:.2f} s = **{n / c_warm[2]:.2f} captions/s** |")
    print(f"| PyTorch reference, padded to 512 (as Cosmos) | {t_512:.2f} s = {n / t_512:.2f} captions/s "
          f"({t_512 / c_warm[2]:.2f}x vcurate's time) |")
    print(f"| PyTorch reference, padded to the longest | {t_long:.2f} s = {n / t_long:.2f} captions/s "
          f"({t_long / c_warm[2]:.2f}x) |")
    print(f"| max relative difference vcurate vs reference | {err:.1e} |")
    print(f"| vcurate open (cold cache / warm) | {c_cold[1]:.3f} s / {c_warm[1]:.3f} s |")
    print(f"| vcurate whole run incl. encode, peak RSS (cold / warm) | {c_cold[0]:.1f} s, {c_cold[3]:.0f} MiB / "
          f"{c_warm[0]:.1f} s, {c_warm[3]:.0f} MiB |")
    print(f"| torch.load of the same file (cold / warm) | {tl_cold:.1f} s, peak RSS {rss_cold:.0f} MiB / "
          f"{tl_warm:.1f} s, {rss_warm:.0f} MiB |")


main()
