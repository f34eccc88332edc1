#!/usr/bin/env python3
"""summarize.py WORK OUT VIDEO WEIGHTS: the summary of run.sh's timings
(WORK/NAME.json and .wall, predictions, OUT/gpu_util.csv) -> OUT/summary.json."""
import json, os, sys
work, out, video, weights = sys.argv[1:5]
def load(name):
    try:
        with open(f"{work}/{name}.json") as f:
            j = json.load(f)
        j["wall"] = float(open(f"{work}/{name}.wall").read())
        j["frames"] = j.get("frames", j.get("num_frames"))
        return j
    except Exception as e:
        return {"error": str(e)}
runs = {n: load(n) for n in ("decode_1", "decode_2", "decode_scale", "cuda_1", "cuda_2", "cpu_1", "content_1")}
def fps(n):
    return runs[n].get("frames_per_second")
s = {"video": video, "weights": os.path.basename(weights), "runs": {}}
for n, j in runs.items():
    s["runs"][n] = {k: j.get(k) for k in ("frames", "seconds", "frames_per_second", "wall", "error") if j.get(k) is not None}
dec = max([f for f in (fps("decode_1"), fps("decode_2")) if f] or [0])
cud = max([f for f in (fps("cuda_1"), fps("cuda_2")) if f] or [0])
if dec and cud:
    s["decode_fps"] = dec
    s["decode_scale_fps"] = fps("decode_scale")
    s["cuda_fps"] = cud
    s["cpu_fps"] = fps("cpu_1")
    s["cuda_over_decode"] = round(cud / dec, 3)
    if fps("decode_scale"):
        s["cuda_over_decode_scale"] = round(cud / fps("decode_scale"), 3)
        # per-frame time the network adds on top of decode+scale
        s["network_ms_per_frame"] = round(1000 / cud - 1000 / fps("decode_scale"), 4)
# CUDA vs CPU predictions and transitions (same weights, same frames)
try:
    a = [tuple(map(float, l.split())) for l in open(f"{work}/pred_cuda.txt")]
    b = [tuple(map(float, l.split())) for l in open(f"{work}/pred_cpu.txt")]
    s["pred_frames"] = [len(a), len(b)]
    s["pred_max_abs_diff"] = max(max(abs(x - y) for x, y in zip(p, q)) for p, q in zip(a, b))
    ta = [(t["type"], t["first_frame"], t["last_frame"]) for t in runs["cuda_2"]["transitions"]]
    tb = [(t["type"], t["first_frame"], t["last_frame"]) for t in runs["cpu_1"]["transitions"]]
    s["transitions_cuda_cpu_identical"] = ta == tb
    s["transitions"] = len(ta)
except Exception as e:
    s["pred_compare_error"] = str(e)
# GPU utilisation while cuda_1 ran
try:
    u = [int(l.split(",")[1].split()[0]) for l in open(f"{out}/gpu_util.csv") if l.count(",") >= 2]
    if u:
        s["gpu_util_percent"] = {"samples": len(u), "mean": round(sum(u) / len(u), 1), "max": max(u)}
except Exception as e:
    s["gpu_util_error"] = str(e)
json.dump(s, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(s, indent=2))
