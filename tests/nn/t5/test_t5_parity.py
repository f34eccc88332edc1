#!/usr/bin/python3
"""T5 encoder parity: vcurate's C encoder against the PyTorch reference
(tests/reference/t5_ref.py) on seeded random weights saved as Hugging Face
folders, fp32 on the CPU.

  test_t5_parity.py T5_RUN REF_SCRIPT

Checked, for a ReLU config (T5 / t5-11b style) and a gated-gelu one (v1.1):
- pytorch_model.bin WITH the decoder, model.safetensors, a sharded
  pytorch_model.bin.index.json whose decoder shard is deleted (so reading any
  decoder tensor would fail), and encoder.safetensors written by the
  `vcurate models download --encoder-only` code: each gives the reference's
  hidden states within 1e-4 relative (max |c - ref| / max |ref| per caption);
- a padded batch of mixed lengths (1 .. 512 tokens, beyond the 128 max
  distance of the position buckets) equals each caption alone;
- the encoder asks the checkpoint for encoder.* and shared.weight only (the
  sharded case proves it cannot touch the decoder: its shard is gone). The
  page cache is no proof for a single file: the kernel's mmap read-around
  (read_ahead_kb, 8 MB here) pulls in pages near every storage's local
  header, which the reader parses at open.
Skips (77) without torch."""
import json
import os
import subprocess
import sys
import tempfile

TOL = 1e-4
SKIP = 77
T5_RUN, REF_SCRIPT = (os.path.abspath(a) for a in sys.argv[1:3])
sys.path.insert(0, os.path.dirname(REF_SCRIPT))
try:
    import numpy as np
    import torch
    import t5_ref as ref
except ImportError as e:
    print(f"SKIP: {e} (needs /usr/bin/python3 with python3-torch and python3-numpy)")
    sys.exit(SKIP)

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)


def run_enc(folder, ckpt, seqs, tmp, threads=2, batch=16):
    inp, out, names = (os.path.join(tmp, n) for n in ("ids.json", "out.f32", "names.txt"))
    with open(inp, "w") as f:
        json.dump(seqs, f)
    r = subprocess.run([T5_RUN, "enc", folder, ckpt or "-", inp, out, names, str(threads), str(batch)],
                       capture_output=True, text=True)
    if r.returncode:
        print(r.stderr)
        return None, None
    flat = np.fromfile(out, dtype=np.float32)
    res, off = [], 0
    d = flat.size // sum(len(s) for s in seqs)
    for s in seqs:
        res.append(flat[off:off + len(s) * d].reshape(len(s), d))
        off += len(s) * d
    return res, open(names).read().split()


def rel_err(got, want):
    return max(float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-30)) for g, w in zip(got, want))


def sharded(folder, sd):
    """pytorch_model.bin.index.json over two shards: encoder+shared, decoder.
    The decoder shard is then removed."""
    enc = {k: v for k, v in sd.items() if not k.startswith("decoder.") and k != "lm_head.weight"}
    dec = {k: v for k, v in sd.items() if k not in enc}
    names = ("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin")
    torch.save(enc, os.path.join(folder, names[0]))
    torch.save(dec, os.path.join(folder, names[1]))
    wm = {k: names[0] for k in enc}
    wm.update({k: names[1] for k in dec})
    idx = os.path.join(folder, "pytorch_model.bin.index.json")
    with open(idx, "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    os.remove(os.path.join(folder, names[1]))
    return idx


def case(tmp, label, cfg, seed):
    print(f"== {label}: {json.dumps({k: cfg[k] for k in ('d_model', 'd_kv', 'num_heads', 'd_ff', 'num_layers', 'feed_forward_proj')})}")
    folder = os.path.join(tmp, label)
    sd = ref.random_state_dict(cfg, seed=seed)
    ref.save_hf_folder(folder, cfg, sd)
    model = ref.T5EncoderRef(cfg, sd)
    rng = np.random.default_rng(seed)
    lens = [1, 2, 7, 31, 130, 257, 512]
    seqs = [[int(x) for x in rng.integers(3, cfg["vocab_size"], n - 1)] + [1] for n in lens]
    # Cosmos pads to max_length 512: the reference runs the padded batch.
    want = ref.encode_padded(model, seqs, pad_to=512)
    alone = [ref.encode_padded(model, [s])[0] for s in seqs[:3]]
    check(rel_err(alone, want[:3]) < 1e-5, "reference: a padded batch equals each caption alone")

    binp = os.path.join(folder, "pytorch_model.bin")
    got, names = run_enc(folder, binp, seqs, tmp)
    check(got is not None, "pytorch_model.bin (with decoder): runs")
    if got is None:
        return
    e = rel_err(got, want)
    check(e <= TOL, f"pytorch_model.bin: max relative error {e:.2e} (<= {TOL:g})")
    bad = [n for n in names if not (n.startswith("encoder.") or n == "shared.weight")]
    check(not bad and len(names) == len(set(names)),
          f"read {len(names)} tensors, all encoder.* / shared.weight ({bad[:3]})")

    for ckpt, what in ((os.path.join(folder, "model.safetensors"), "model.safetensors (with decoder)"),
                       (sharded(folder, sd), "sharded index, decoder shard deleted")):
        g, _ = run_enc(folder, ckpt, seqs, tmp, threads=1, batch=3)
        check(g is not None and rel_err(g, want) <= TOL,
              f"{what}: max relative error {rel_err(g, want) if g else float('nan'):.2e}")

    r = subprocess.run([T5_RUN, "reduce", folder, "pytorch_model.bin"], capture_output=True, text=True)
    check(r.returncode == 0, "encoder.safetensors written by the --encoder-only writer " + r.stderr.strip())
    g, _ = run_enc(folder, None, seqs, tmp)   # default pick: encoder.safetensors first
    ok = g is not None and all(np.array_equal(a, b) for a, b in zip(g, got))
    check(ok, "encoder.safetensors (picked by default) gives the same embeddings as pytorch_model.bin, bit for bit")

    g, _ = run_enc(folder, binp, seqs[::-1], tmp, threads=2, batch=1)
    check(g is not None and rel_err(g[::-1], want) <= TOL, "one caption at a time, other order: same within tolerance")


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(dir=os.environ.get("MESON_BUILD_ROOT")) as tmp:
        case(tmp, "relu", ref.default_config(d_model=64, d_kv=16, num_heads=6, d_ff=2048, num_layers=3,
                                             num_decoder_layers=4, vocab_size=400), seed=11)
        case(tmp, "gated", ref.default_config(d_model=48, d_kv=8, num_heads=4, d_ff=96, num_layers=2,
                                              num_decoder_layers=2, vocab_size=300,
                                              feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-5),
             seed=12)
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed")
        sys.exit(1)
    print("OK: T5 encoder parity")


main()
