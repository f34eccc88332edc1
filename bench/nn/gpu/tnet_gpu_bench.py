#!/usr/bin/env python3
"""GPU parity and throughput of the CUDA TransNetV2 backend (src/nn/cuda)
against PyTorch, same random weights, side by side in one run.

Runs on the GPU machine (PyTorch + CUDA there), from the repository root:

  bench/nn/gpu/tnet_gpu_bench.py --bin build-gpu/tnet_gpu --out DIR

1. weights: tests/reference/transnetv2_ref.py's random_model(seed); written
   folded (BN into the temporal convs) as DIR/params.bin for the harness;
2. a synthetic video (shots, cuts, dissolves) as raw 48x27 rgb24;
3. parity: per-frame probabilities with TransNetV2's windowing, ours (in
   each --precisions mode: exact = bf16x3, bf16 = one bf16 pass) vs the
   fp32 PyTorch model on the GPU (TF32 off), max abs diff and scene lists
   at 0.5; plus a stage-by-stage diff of one window (VC_TNET_CUDA_DUMP);
4. throughput (video frames/s = windows/s * 50): PyTorch eager fp32 (its
   defaults), PyTorch bf16 autocast + channels_last_3d, and ours in each
   precision, each at several batch sizes.
Results: DIR/results.json and a markdown table on stdout and DIR/results.md.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch.nn import functional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import transnetv2_ref as ref  # noqa: E402

H, W = 27, 48


# The reference builds index and histogram tensors on the CPU: make those two
# follow the input's device so the same model runs on the GPU.
def _similarity_lookup(x):
    b, t, _ = x.shape
    sim = torch.bmm(x, x.transpose(1, 2))
    padded = functional.pad(sim, [50, 50])
    rows = torch.arange(t, device=x.device).view(1, t, 1)
    cols = rows + torch.arange(101, device=x.device).view(1, 1, 101)
    return padded[torch.arange(b, device=x.device).view(b, 1, 1), rows, cols]


def _histograms(frames):
    b, t = frames.shape[:2]
    px = frames.reshape(b * t, -1, 3).long() >> 5
    bins = (px[..., 0] << 6) + (px[..., 1] << 3) + px[..., 2]
    hist = torch.zeros(b * t, 512, dtype=torch.float32, device=frames.device)
    hist.scatter_add_(1, bins, torch.ones(bins.shape, dtype=torch.float32, device=frames.device))
    return functional.normalize(hist.view(b, t, 512), p=2, dim=2)


ref.similarity_lookup = _similarity_lookup
ref.ColorHistograms.histograms = staticmethod(_histograms)


def folded_params(state):
    """The harness's params file: vc_tnet_params order, BN folded."""
    out = []
    cin = [[3, 64], [64, 128], [128, 256]]
    for i in range(3):
        for j in range(2):
            p = f"SDDCNN.{i}.DDCNN.{j}."
            f = 16 << i
            scale = state[p + "bn.weight"] / torch.sqrt(state[p + "bn.running_var"] + ref.BN_EPS)
            shift = state[p + "bn.bias"] - state[p + "bn.running_mean"] * scale
            for d in (1, 2, 4, 8):
                w = state[f"{p}Conv3D_{d}.layers.0.weight"]
                assert tuple(w.shape) == (2 * f, cin[i][j], 1, 3, 3)
                out.append(w)
            for k, d in enumerate((1, 2, 4, 8)):
                w = state[f"{p}Conv3D_{d}.layers.1.weight"]
                out.append(w * scale[k * f:(k + 1) * f].view(f, 1, 1, 1, 1))
            out.append(shift)
    for name in ("frame_sim_layer.projection", "frame_sim_layer.fc", "color_hist_layer.fc", "fc1",
                 "cls_layer1", "cls_layer2"):
        out += [state[name + ".weight"], state[name + ".bias"]]
    blob = b"".join(t.detach().double().float().contiguous().numpy().astype("<f4").tobytes() for t in out)
    return b"VCTNETP1" + blob


def synthetic_video(n, seed):
    """Shots of 8..160 frames (drifting smooth or blocky random images,
    brightness ramps, noise), hard cuts and some 6..16-frame dissolves."""
    gen = torch.Generator().manual_seed(seed)
    frames = []

    def shot(length):
        low = (int(torch.randint(2, 9, (1,), generator=gen)), int(torch.randint(3, 16, (1,), generator=gen)))
        mode = "bilinear" if torch.rand(1, generator=gen) < 0.5 else "nearest"
        base = functional.interpolate(torch.rand(1, 3, *low, generator=gen) * 255, size=(H + 16, W + 16), mode=mode)
        vy, vx = (torch.rand(2, generator=gen) * 0.6 - 0.3).tolist()
        ramp = float(torch.rand(1, generator=gen) * 2 - 1)
        out = []
        for i in range(length):
            oy, ox = int(8 + vy * i) % 16, int(8 + vx * i) % 16
            img = base[0, :, oy:oy + H, ox:ox + W] + ramp * i + torch.randn(3, H, W, generator=gen) * 3
            out.append(img.permute(1, 2, 0).clamp(0, 255))
        return out

    while len(frames) < n:
        s = shot(int(torch.randint(8, 160, (1,), generator=gen)))
        if frames and torch.rand(1, generator=gen) < 0.3:
            k = min(int(torch.randint(6, 16, (1,), generator=gen)), len(s), len(frames))
            for i in range(k):
                a = (i + 1) / (k + 1)
                frames[-k + i] = frames[-k + i] * (1 - a) + s[i] * a
            s = s[k:]
        frames += s
    return torch.stack(frames[:n]).round().to(torch.uint8).numpy()


def predict_torch(model, frames, dev, batch=16):
    windows = ref.reference_windows(len(frames))
    ft = torch.from_numpy(frames).to(dev)
    single, many = [], []
    with torch.no_grad():
        for b in range(0, len(windows), batch):
            idx = torch.tensor(windows[b:b + batch], device=dev)
            s, m = model(ft[idx])
            single += list(torch.sigmoid(s[..., 0]).float().cpu().numpy())
            many += list(torch.sigmoid(m[..., 0]).float().cpu().numpy())
    return ref.assemble(single, len(frames)), ref.assemble(many, len(frames))


def stage_tensors(model, x):
    """Every stage the CUDA backend can dump, from forward hooks, as
    channels-last float32 numpy arrays of window 0."""
    got, hooks = {}, []

    def keep(name, fn):
        return lambda mod, inp, out: got.__setitem__(name, fn(mod, inp, out))

    cl = lambda t: t[0].permute(1, 2, 3, 0).float().cpu().numpy()  # [C,T,H,W] -> [T,H,W,C]
    for i, stack in enumerate(model.SDDCNN):
        for j, dd in enumerate(stack.DDCNN):
            for d in (1, 2, 4, 8):
                hooks.append(getattr(dd, f"Conv3D_{d}").layers[0].register_forward_hook(
                    keep(f"s{i}_S{j}_{d}", lambda m, a, o: o)))
        hooks.append(stack.DDCNN[0].register_forward_hook(keep(f"s{i}_x1", lambda m, a, o: cl(o))))
        hooks.append(stack.register_forward_hook(keep(f"s{i}_P", lambda m, a, o: o)))
    hooks.append(model.fc1.register_forward_hook(
        keep("fc1", lambda m, a, o: (a[0][0].float().cpu().numpy(), (o - m.bias)[0].float().cpu().numpy()))))
    with torch.no_grad():
        s, mh = model(x)
    for h in hooks:
        h.remove()
    out = {}
    for i in range(3):
        for j in range(2):
            out[f"s{i}_S{j}"] = cl(torch.cat([got.pop(f"s{i}_S{j}_{d}") for d in (1, 2, 4, 8)], 1))
        out[f"s{i}_x1"] = got[f"s{i}_x1"]
        out[f"s{i}_P"] = cl(got[f"s{i}_P"])
    out["simin"] = torch.cat([got[f"s{i}_P"].mean(dim=[3, 4]) for i in range(3)], 1)[0].t().float().cpu().numpy()
    out["feat"], out["hfc"] = got["fc1"]
    out["out"] = torch.stack([torch.sigmoid(s[0, :, 0]), torch.sigmoid(mh[0, :, 0])], 1).float().cpu().numpy()
    return out


def compare_stages(model, frames, dump_dir, dev):
    want = stage_tensors(model, torch.from_numpy(frames[:100]).unsqueeze(0).to(dev))
    rows = []
    for name, r in want.items():
        path = os.path.join(dump_dir, name + ".f32")
        if not os.path.exists(path):
            rows.append((name, "missing"))
            continue
        o = np.fromfile(path, dtype=np.float32).reshape(r.shape)
        if name.endswith("_S1"):          # DDCNN 1's spatial conv skips the odd last row
            hc = r.shape[1] & ~1
            o, r = o[:, :hc], r[:, :hc]
        nan = int(np.isnan(o).sum())
        err = float(np.nanmax(np.abs(o - r)))
        scale = float(np.abs(r).max()) or 1.0
        rows.append((name, f"max|ref| {scale:.4g}  max abs err {err:.3g}  rel {err / scale:.3g}  NaN {nan}"))
    return rows


def timed(fn, iters, warm=2):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / iters


def bench_torch(model, dev, nwin, mode, iters):
    x = torch.randint(0, 256, (nwin, 100, H, W, 3), dtype=torch.uint8, device=dev)
    with torch.no_grad():
        if mode == "bf16cl":
            m = model.to(memory_format=torch.channels_last_3d)

            def fn():
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return m(x)
        else:
            def fn():
                return model(x)
        try:
            dt = timed(fn, iters)
        except torch.cuda.OutOfMemoryError:
            return None
        finally:
            model.to(memory_format=torch.contiguous_format)
            torch.cuda.empty_cache()
    return nwin * 50 / dt


def bench_ours(binary, params, nwin, iters, prec="exact", env=None):
    r = subprocess.run([binary, "-p", prec, "bench", params, str(nwin), str(iters)], capture_output=True, text=True,
                       env=env)
    if r.returncode:
        print(r.stdout, r.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def save(res, out):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)


def scenes_str(sc):
    return " ".join(f"{a}-{b}" for a, b in sc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build-gpu/tnet_gpu")
    ap.add_argument("--out", required=True, help="results (results.json, results.md)")
    ap.add_argument("--work", default="/tmp/tnet_gpu", help="params, frames, dumps")
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--torch-windows", default="8,32,64")
    ap.add_argument("--our-windows", default="8,32,64,128")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--no-bench", action="store_true")
    ap.add_argument("--sanitize", nargs="?", const="memcheck,racecheck", default="",
                    help="compute-sanitizer tools (memcheck,racecheck by default), small runs, every precision; "
                         "TOOL:PREC runs TOOL in that precision only (racecheck:bf16)")
    ap.add_argument("--tune", default="",
                    help="kernel variants to time, '[PREC/]SPATIAL:TEMPORAL[:CONV0],...' (VC_TNET_CUDA_*; PREC exact or bf16)")
    ap.add_argument("--sanitize-timeout", type=int, default=150, help="seconds per sanitizer run")
    ap.add_argument("--profile", type=int, default=0, help="per-stage GPU times at this many windows")
    ap.add_argument("--precisions", default="exact,bf16", help="our precision modes to run (exact, bf16)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    dev = torch.device("cuda")
    res = {"date": datetime.date.today().isoformat(), "card": torch.cuda.get_device_name(0),
           "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}
    print(f"== {res['card']}, torch {res['torch']}, cudnn {res['cudnn']}", flush=True)

    model = ref.random_model(args.seed)
    params = os.path.join(args.work, "params.bin")
    with open(params, "wb") as f:
        f.write(folded_params(model.state_dict()))
    frames = synthetic_video(args.frames, args.seed)
    fpath = os.path.join(args.work, "frames.rgb")
    frames.tofile(fpath)
    model = model.to(dev)

    # --- parity against strict fp32 PyTorch on the GPU
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    t0 = time.perf_counter()
    rs, rm = predict_torch(model, frames, dev)
    print(f"reference: {len(frames)} frames in {time.perf_counter() - t0:.1f} s", flush=True)
    ref_sc = ref.predictions_to_scenes(rs, 0.5)
    res["frames"] = len(frames)
    res["ref_scenes"] = len(ref_sc)
    res["parity"] = {}
    precs = args.precisions.split(",")
    runs = [(p if p != "exact" else "default", p, {}) for p in precs]
    if "exact" in precs:
        runs.insert(1, ("fc1 tf32", "exact", {"VC_TNET_CUDA_FC": "tf32"}))
    for label, prec, env in runs:
        out = os.path.join(args.work, "ours.f32")
        r = subprocess.run([args.bin, "-p", prec, "predict", params, fpath, str(len(frames)), out, "32"],
                           env={**os.environ, **env}, capture_output=True, text=True)
        print(r.stdout + r.stderr, end="", flush=True)
        if r.returncode:
            res["parity"][label] = {"error": r.stderr.strip()}
            continue
        o = np.fromfile(out, dtype=np.float32).reshape(-1, 2)
        sc = ref.predictions_to_scenes(o[:, 0], 0.5)
        p = {"max_abs_single": float(np.abs(o[:, 0] - rs).max()), "max_abs_many": float(np.abs(o[:, 1] - rm).max()),
             "mean_abs_single": float(np.abs(o[:, 0] - rs).mean()), "scenes": len(sc), "scenes_equal": sc == ref_sc,
             "nan": int(np.isnan(o).sum())}
        if sc != ref_sc:
            p["ours_scenes"], p["ref_scenes"] = scenes_str(sc), scenes_str(ref_sc)
        res["parity"][label] = p
        print(f"parity ({label}): {p}", flush=True)

    # PyTorch's own fast modes, against the same strict reference
    for label, bf16 in (("torch default fp32 (TF32 convs)", False), ("torch bf16 autocast", True)):
        torch.backends.cudnn.allow_tf32 = True
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            s_, m_ = predict_torch(model, frames, dev)
        sc = ref.predictions_to_scenes(s_, 0.5)
        res["parity"][label] = {"max_abs_single": float(np.abs(s_ - rs).max()),
                                "max_abs_many": float(np.abs(m_ - rm).max()),
                                "mean_abs_single": float(np.abs(s_ - rs).mean()), "scenes": len(sc),
                                "scenes_equal": sc == ref_sc}
        if sc != ref_sc:
            res["parity"][label]["scenes_str"] = scenes_str(sc)
        print(f"parity ({label}): {res['parity'][label]}", flush=True)
    torch.backends.cudnn.allow_tf32 = False
    save(res, args.out)

    # --- stage-by-stage diff of one window
    for prec in precs:
        ddir = os.path.join(args.work, "dump_" + prec)
        os.makedirs(ddir, exist_ok=True)
        r = subprocess.run([args.bin, "-p", prec, "dump", params, fpath, ddir], capture_output=True, text=True)
        print(r.stdout + r.stderr, end="")
        key = "stages" if prec == "exact" else "stages_" + prec
        res[key] = compare_stages(model, frames, ddir, dev)
        print(f"stages ({prec}):")
        for name, s in res[key]:
            print(f"  {name:7s} {s}")
        sys.stdout.flush()

    save(res, args.out)

    # --- kernel variants and per-stage profile
    if args.tune:
        res["tune"] = {}
        for v in args.tune.split(","):
            prec, _, st = v.rpartition("/")
            prec = prec or "exact"
            sp, tm, c0 = (st.split(":") + ["0"])[:3]
            env = {**os.environ, "VC_TNET_CUDA_SPATIAL": sp, "VC_TNET_CUDA_TEMPORAL": tm, "VC_TNET_CUDA_CONV0": c0}
            out = os.path.join(args.work, "tune.f32")
            r = subprocess.run([args.bin, "-p", prec, "predict", params, fpath, str(len(frames)), out, "32"], env=env,
                               capture_output=True, text=True)
            err = float(np.abs(np.fromfile(out, dtype=np.float32).reshape(-1, 2)[:, 0] - rs).max()) \
                if r.returncode == 0 else None
            b = subprocess.run([args.bin, "-p", prec, "bench", params, "64", "10"], env=env, capture_output=True,
                               text=True)
            fps = json.loads(b.stdout.strip().splitlines()[-1])["net_fps"] if b.returncode == 0 else None
            res["tune"][v] = {"max_abs_single": err, "net_fps": fps}
            print(f"variant {prec} spatial {sp} temporal {tm} conv0 {c0}: max abs {err}, net {fps} frames/s {b.stderr[-300:]}",
                  flush=True)
    if args.profile:
        env = {**os.environ, "VC_TNET_CUDA_PROFILE": "1"}
        for prec in precs:
            b = subprocess.run([args.bin, "-p", prec, "bench", params, str(args.profile), "2"], env=env,
                               capture_output=True, text=True)
            key = "profile" if prec == "exact" else "profile_" + prec
            res[key] = b.stderr.strip().splitlines()[-1:]
            print(f"profile ({prec}) at {args.profile} windows: {res[key]}", flush=True)
    save(res, args.out)

    # --- throughput
    ours_keys = ["ours" if p == "exact" else "ours_" + p for p in precs]
    if not args.no_bench:
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = True       # PyTorch's defaults for "fp32"
        torch.backends.cuda.matmul.allow_tf32 = False
        res["bench"] = {"torch_fp32": {}, "torch_bf16_cl": {}, **{k: {} for k in ours_keys}}
        for nw in map(int, args.torch_windows.split(",")):
            for mode, key in (("fp32", "torch_fp32"), ("bf16cl", "torch_bf16_cl")):
                fps = bench_torch(model, dev, nw, mode, args.iters)
                res["bench"][key][nw] = fps
                print(f"{key:14s} windows {nw:4d}: {fps and round(fps)} frames/s", flush=True)
        torch.cuda.empty_cache()
        for prec, key in zip(precs, ours_keys):
            for nw in map(int, args.our_windows.split(",")):
                r = bench_ours(args.bin, params, nw, max(args.iters, 20), prec)
                res["bench"][key][nw] = r
                print(f"{key:14s} windows {nw:4d}: {r}", flush=True)
        best = lambda d: max((v for v in d.values() if v), default=0)
        bt = max(best(res["bench"]["torch_fp32"]), best(res["bench"]["torch_bf16_cl"]))
        res["summary"] = {"best_torch_fps": bt, "torch_fp32_fps": best(res["bench"]["torch_fp32"]),
                          "torch_bf16_cl_fps": best(res["bench"]["torch_bf16_cl"])}
        for prec, key in zip(precs, ours_keys):
            sfx = "" if prec == "exact" else "_" + prec
            ours_call = max((v["call_fps"] for v in res["bench"][key].values() if v), default=0)
            ours_net = max((v["net_fps"] for v in res["bench"][key].values() if v), default=0)
            res["summary"].update({f"ours{sfx}_call_fps": ours_call, f"ours{sfx}_net_fps": ours_net,
                                   f"ratio{sfx}_call": ours_call / bt if bt else None,
                                   f"ratio{sfx}_net": ours_net / bt if bt else None})
        print("summary:", res["summary"])
    save(res, args.out)
    if args.sanitize:
        res["sanitize"] = {}
        tools = [t.partition(":") for t in args.sanitize.split(",")]
        for prec in precs:
            for tool, n, maxw in (("memcheck", 150, 2), ("racecheck", 50, 1)):
                if not any(t == tool and (not p or p == prec) for t, _, p in tools):
                    continue
                cmd = ["timeout", str(args.sanitize_timeout), "compute-sanitizer", "--tool", tool, "--error-exitcode", "9", args.bin,
                       "-p", prec, "predict", params, fpath, str(n), os.path.join(args.work, "san.f32"), str(maxw)]
                t0 = time.perf_counter()
                r = subprocess.run(cmd, capture_output=True, text=True)
                tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
                key = tool if prec == "exact" else f"{tool} {prec}"
                res["sanitize"][key] = {"rc": r.returncode, "s": round(time.perf_counter() - t0, 1), "tail": tail}
                print(f"compute-sanitizer {key}: rc {r.returncode}, {time.perf_counter() - t0:.0f} s, {tail}",
                      flush=True)

    save(res, args.out)


if __name__ == "__main__":
    main()
