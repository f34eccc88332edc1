#!/usr/bin/env python3
"""T5 encoder on the GPU machine: parity and speed of vcurate's encoder
(build-t5gpu/t5_gpu: CUDA fp32, CUDA TF32, CPU) against transformers'
T5EncoderModel, and checkpoint loading against torch.load.

  t5_gpu_bench.py --bin build-t5gpu/t5_gpu --out DIR [--layers 24] [--captions 32] [--batch 16]
                  [--small-only] [--work DIR]

1. Small random config (t5_ref.random_state_dict): transformers fp32 on the
   GPU (TF32 off), padded to 512 as Cosmos does, against ours.
2. t5-11b shapes (d_model 1024, 128x128 heads, d_ff 65536, --layers of 24),
   transformers' own random init on the GPU: saved as pytorch_model.bin (with
   a zero decoder of t5-11b's shape when the disk has room), transformers'
   captions/s at --batch (padded to 512, fp32, TF32 off) vs ours (fp32 and
   TF32) at the same batch; relative error max|c - hf| / max|hf| per caption;
   load time and peak RSS: ours (open = map + upload the encoder) vs
   torch.load of the same file.
Results: DIR/results.json and the log on stdout."""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "reference"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import t5_ref as ref  # noqa: E402

try:
    from transformers import T5Config, T5EncoderModel
except ImportError:
    T5Config = T5EncoderModel = None

CUDA = torch.cuda.is_available()
DEV = "cuda" if CUDA else "cpu"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def log(*a):
    print(*a, flush=True)


def write_ids(path, seqs):
    with open(path, "wb") as f:
        np.array([len(seqs)], dtype=np.int32).tofile(f)
        np.array([len(s) for s in seqs], dtype=np.int32).tofile(f)
        for s in seqs:
            np.array(s, dtype=np.int32).tofile(f)


def run_ours(binp, folder, ckpt, seqs, device, batch, reps, tmp):
    ids, out = os.path.join(tmp, "ids.bin"), os.path.join(tmp, "out.f32")
    write_ids(ids, seqs)
    wrap = ("import resource,subprocess,sys;r=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
            "sys.stderr.write(r.stderr);print(r.stdout.strip());"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);sys.exit(r.returncode)")
    r = subprocess.run([sys.executable, "-c", wrap, binp, folder, ckpt, ids, out, device, str(batch), str(reps)],
                       capture_output=True, text=True)
    if r.returncode:
        log("ours failed:", r.stderr[-2000:])
        return None, None
    lines = r.stdout.strip().splitlines()
    res = json.loads(lines[0])
    res["peak_rss_mib"] = int(lines[1]) / 1024
    flat = np.fromfile(out, dtype=np.float32)
    d = flat.size // sum(len(s) for s in seqs)
    outs, off = [], 0
    for s in seqs:
        outs.append(flat[off:off + len(s) * d].reshape(len(s), d))
        off += len(s) * d
    return res, outs


def hf_model(cfg, sd=None):
    conf = T5Config(**{k: v for k, v in cfg.items() if k not in ("architectures",)})
    if sd is None:
        with torch.device(DEV):
            m = T5EncoderModel(conf)
    else:
        m = T5EncoderModel(conf)
        missing, unexpected = m.load_state_dict({k: v for k, v in sd.items()
                                                 if k.startswith("encoder.") or k == "shared.weight"}, strict=False)
        assert all("embed_tokens" in k for k in missing), missing
        m = m.to(DEV)
    return m.eval()


@torch.no_grad()
def run_hf(model, seqs, batch, pad_to=512):
    outs = []
    if CUDA:
        torch.cuda.synchronize()
    t = time.time()
    for i in range(0, len(seqs), batch):
        chunk = seqs[i:i + batch]
        ids = torch.zeros(len(chunk), pad_to, dtype=torch.long)
        mask = torch.zeros(len(chunk), pad_to, dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, :len(s)] = torch.tensor(s)
            mask[j, :len(s)] = 1
        h = model(input_ids=ids.to(DEV), attention_mask=mask.to(DEV)).last_hidden_state
        outs += [h[j, :len(s)].float().cpu().numpy() for j, s in enumerate(chunk)]
    if CUDA:
        torch.cuda.synchronize()
    return time.time() - t, outs


def rel(got, want):
    return max(float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-30)) for g, w in zip(got, want))


def small(a, tmp, results):
    cfg = ref.default_config(d_model=64, d_kv=16, num_heads=6, d_ff=256, num_layers=3, num_decoder_layers=3,
                             vocab_size=400)
    sd = ref.random_state_dict(cfg, seed=1)
    folder = os.path.join(tmp, "small")
    ref.save_hf_folder(folder, cfg, sd, st_name=None)
    rng = np.random.default_rng(1)
    seqs = [[int(x) for x in rng.integers(3, 400, n - 1)] + [1] for n in (1, 5, 64, 200, 512)]
    if T5EncoderModel is not None:
        _, want = run_hf(hf_model(cfg, sd), seqs, 16)
        src = "transformers T5EncoderModel fp32 on " + DEV
    else:
        want = ref.encode_padded(ref.T5EncoderRef(cfg, sd), seqs, pad_to=512)
        src = "t5_ref (no transformers here)"
    out = {"reference": src}
    for dev in (["cuda", "tf32", "cpu"] if CUDA else ["cpu"]):
        res, got = run_ours(a.bin, folder, "-", seqs, dev, 16, 1, tmp)
        out[dev] = rel(got, want) if got else None
        log(f"small config, ours {dev} vs {src}: max relative error {out[dev]}")
    results["small"] = out


def big(a, tmp, results):
    cfg = ref.default_config(num_layers=a.layers, num_decoder_layers=24)
    folder = os.path.join(a.work, "t5-11b-random")
    os.makedirs(folder, exist_ok=True)
    t = time.time()
    model = hf_model(cfg)
    log(f"t5-11b-shaped encoder ({a.layers} layers) initialised on {DEV} in {time.time() - t:.1f} s")
    rng = np.random.default_rng(0)
    lens = [int(x) for x in rng.integers(80, 320, a.captions)]
    seqs = [[int(t) for t in rng.integers(3, 32000, n - 1)] + [1] for n in lens]
    run_hf(model, seqs[:a.batch], a.batch)                      # warm-up
    hf_s, want = run_hf(model, seqs, a.batch)
    log(f"transformers fp32 (TF32 off), batch {a.batch} padded to 512: {hf_s:.2f} s, {len(seqs) / hf_s:.2f} captions/s")
    r = {"layers": a.layers, "captions": len(seqs), "tokens": sum(lens), "batch": a.batch,
         "hf_fp32_s": hf_s, "hf_fp32_captions_per_s": len(seqs) / hf_s}
    # the checkpoint, as published: encoder + shared (+ a t5-11b decoder of zeros when there is room)
    t = time.time()
    sd = {k: v.detach().to("cpu") for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    del model
    if CUDA:
        torch.cuda.empty_cache()
    enc_bytes = sum(v.numel() * 4 for v in sd.values())
    dec_shapes = {k.replace("encoder.", "decoder.", 1): v.shape for k, v in sd.items() if k.startswith("encoder.")}
    free = shutil.disk_usage(a.work).free
    with_dec = free > 2.2 * enc_bytes + 8e9 and a.layers == 24
    if with_dec:
        for k, shp in list(dec_shapes.items()):
            sd[k] = torch.zeros(shp)
            if ".layer.1." in k:    # the decoder's feed-forward is its third sub-layer
                sd[k.replace(".layer.1.", ".layer.2.")] = sd.pop(k)
        for l in range(24):
            p = f"decoder.block.{l}.layer.1."
            for w in "qkvo":
                sd[p + f"EncDecAttention.{w}.weight"] = torch.zeros(16384, 1024) if w != "o" else torch.zeros(1024, 16384)
            sd[p + "layer_norm.weight"] = torch.zeros(1024)
        sd["lm_head.weight"] = torch.zeros(32128, 1024)
    binp = os.path.join(folder, "pytorch_model.bin")
    torch.save(sd, binp)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    size = os.path.getsize(binp)
    del sd
    log(f"pytorch_model.bin {size / 1e9:.1f} GB ({'with' if with_dec else 'without'} decoder) written in {time.time() - t:.0f} s")
    r.update({"file_gb": size / 1e9, "with_decoder": with_dec})
    for dev in (["cuda", "tf32"] if CUDA else ["cpu"]):
        res, got = run_ours(a.bin, folder, binp, seqs, dev, a.batch, 2, tmp)
        if not res:
            continue
        e = rel(got, want)
        log(f"ours {dev}: open {res['open_s']:.1f} s, encode {res['encode_s']:.2f} s = "
            f"{len(seqs) / res['encode_s']:.2f} captions/s ({hf_s / res['encode_s']:.2f}x transformers), "
            f"max relative error {e:.2e}, peak RSS {res['peak_rss_mib']:.0f} MiB")
        r[dev] = dict(res, captions_per_s=len(seqs) / res["encode_s"], speedup=hf_s / res["encode_s"], rel_err=e)
    code = ("import resource,time,torch,sys;t=time.time();sd=torch.load(sys.argv[1],map_location='cpu');"
            "print(time.time()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)")
    t = subprocess.run([sys.executable, "-c", code, binp], capture_output=True, text=True)
    if t.returncode == 0:
        tl, rss = (float(x) for x in t.stdout.split())
        log(f"torch.load of the same file: {tl:.1f} s, peak RSS {rss:.0f} MiB")
        r.update({"torch_load_s": tl, "torch_load_peak_rss_mib": rss})
    else:
        log("torch.load failed:", t.stderr[-500:])
    os.remove(binp)
    results["t5_11b_shapes"] = r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--captions", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--small-only", action="store_true")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    a.work = a.work or tempfile.mkdtemp()
    results = {"device": torch.cuda.get_device_name(0) if CUDA else "cpu", "torch": torch.__version__}
    try:
        import transformers
        results["transformers"] = transformers.__version__
    except ImportError:
        pass
    log(json.dumps(results))
    with tempfile.TemporaryDirectory() as tmp:
        small(a, tmp, results)
        json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=2)
        if not a.small_only:
            big(a, tmp, results)
    json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=2)
    log(json.dumps(results, indent=2))


main()
