#!/usr/bin/python3
"""Shot-detection accuracy of vcurate's `content` and `adaptive` detectors next
to ffmpeg's `scdet` and `select='gt(scene,X)'`, on ground-truth videos of
scripts/make-groundtruth.py, all scored with one rule (tests/detect/shot_score.py:
+-TOL frames; a dissolve or fade counts as found when a detected boundary falls
inside it; each detection and each true transition matched at most once).

Headline rows use each tool's default settings (vcurate's defaults, scdet's
t=10, the common select threshold 0.3). The threshold sweep below them scores
every threshold from one pass over ffmpeg's per-frame scores and names the
best, which favours ffmpeg (the threshold is picked on the answer).

Usage: compare.py VCURATE GT_BASE [GT_BASE ...] [--tol N] [--json OUT.json]
  GT_BASE: path without extension of a make-groundtruth.py output (.mp4 + .json)."""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "detect"))
import shot_score  # noqa: E402

SCDET_SWEEP = [3, 5, 8, 10, 12, 15, 20, 30]
SELECT_SWEEP = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]


def ffmpeg_metadata(video, vf):
    """Runs ffmpeg with `vf` followed by metadata=print; returns parsed frames."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", video, "-an",
                        "-vf", f"{vf},metadata=mode=print:file=-", "-f", "null", "-"],
                       capture_output=True, text=True, check=True)
    return shot_score.parse_metadata_print(p.stdout)


def run_video(vc, base, tol):
    meta, gt = shot_score.load_gt(base + ".json")
    video = base + ".mp4"
    fps = meta["fps"]
    rows = {}
    for algo in ("content", "adaptive"):
        p = subprocess.run([vc, "detect", "--splitting-algorithm", algo, video],
                           capture_output=True, text=True, check=True)
        rows[f"vcurate {algo}"] = shot_score.match(gt, shot_score.vcurate_events(json.loads(p.stdout)), tol)

    # scdet passes every frame, with its score; lavfi.scd.time marks detections.
    sc = ffmpeg_metadata(video, "scdet=t=10")
    if len(sc) != meta["frames"]:
        raise SystemExit(f"{video}: scdet saw {len(sc)} frames, ground truth has {meta['frames']}")
    t0 = sc[0][0]
    idx = lambda t: shot_score.time_to_frame(t, fps, t0)  # noqa: E731
    scd = [idx(t) for t, kv in sc if "lavfi.scd.time" in kv]
    rows["ffmpeg scdet t=10"] = shot_score.match(gt, [(f, f) for f in scd], tol)
    sc_scores = [(idx(t), float(kv["lavfi.scd.score"])) for t, kv in sc]
    # The sweep must reproduce the literal run at t=10 (scdet flags score >= t).
    assert [f for f, s in sc_scores if s >= 10] == scd, "scdet sweep does not match its own output"

    sel = ffmpeg_metadata(video, "select='gt(scene\\,0.3)'")
    sel_frames = [idx(t) for t, _ in sel]
    rows["ffmpeg select gt(scene,0.3)"] = shot_score.match(gt, [(f, f) for f in sel_frames], tol)
    allsel = ffmpeg_metadata(video, "select='gte(scene\\,0)'")
    sel_scores = [(idx(t), float(kv["lavfi.scene_score"])) for t, kv in allsel]
    assert [f for f, s in sel_scores if s > 0.3] == sel_frames, "select sweep does not match its own output"

    sweep = {"scdet": {}, "select": {}}
    for t in SCDET_SWEEP:
        sweep["scdet"][t] = shot_score.match(gt, [(f, f) for f, s in sc_scores if s >= t], tol)
    for t in SELECT_SWEEP:
        sweep["select"][t] = shot_score.match(gt, [(f, f) for f, s in sel_scores if s > t], tol)
    kinds = {}
    for _, _, k in gt:
        kinds[k] = kinds.get(k, 0) + 1
    return {"video": video, "variant": meta.get("variant", 0), "frames": meta["frames"],
            "transitions": len(gt), "kinds": kinds, "rows": rows, "sweep": sweep}


HEADER = ("| detector | tp | fp | fn | precision | recall | F1 | cuts found | gradual found |\n"
          "|---|---|---|---|---|---|---|---|---|")


def by_kind(s, kinds):
    """'found/total' for hard cuts and for gradual transitions."""
    ncut = kinds.get("cut", 0)
    ngrad = sum(kinds.values()) - ncut
    mcut = sum(1 for m in s["missed"] if m[2] == "cut")
    mgrad = len(s["missed"]) - mcut
    return f"{ncut - mcut}/{ncut}", f"{ngrad - mgrad}/{ngrad}"


def fmt_row(name, s, kinds):
    c, g = by_kind(s, kinds)
    return (f"| {name} | {s['tp']} | {s['fp']} | {s['fn']} | {s['precision']:.3f} | "
            f"{s['recall']:.3f} | **{s['f1']:.3f}** | {c} | {g} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vcurate")
    ap.add_argument("gt", nargs="+")
    ap.add_argument("--tol", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    vc = os.path.abspath(a.vcurate)
    results = [run_video(vc, os.path.abspath(b), a.tol) for b in a.gt]
    for r in results:
        name = "canonical (the test suite's)" if r["variant"] == 0 else f"held-out variant {r['variant']}"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(r["kinds"].items()))
        print(f"\n### {name}: {os.path.basename(r['video'])}, {r['frames']} frames, "
              f"{r['transitions']} transitions ({kinds}), tolerance +-{a.tol}\n")
        print(HEADER)
        for k, s in r["rows"].items():
            print(fmt_row(k, s, r["kinds"]))
        for tool, sw in r["sweep"].items():
            best_t, best = max(sw.items(), key=lambda kv: kv[1]["f1"])
            print(f"\n{tool} threshold sweep (F1): "
                  + ", ".join(f"{t}: {s['f1']:.3f}" for t, s in sw.items())
                  + f"; best {best_t} (P {best['precision']:.3f}, R {best['recall']:.3f})")
    if len(results) > 1:
        print("\n### All videos pooled (counts summed)\n")
        print(HEADER)
        kinds = {}
        for r in results:
            for kk, n in r["kinds"].items():
                kinds[kk] = kinds.get(kk, 0) + n
        for k in results[0]["rows"]:
            tp = sum(r["rows"][k]["tp"] for r in results)
            fp = sum(r["rows"][k]["fp"] for r in results)
            fn = sum(r["rows"][k]["fn"] for r in results)
            p = tp / (tp + fp) if tp + fp else 1.0
            rc = tp / (tp + fn) if tp + fn else 1.0
            f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
            missed = [m for r in results for m in r["rows"][k]["missed"]]
            print(fmt_row(k, {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": rc, "f1": f1,
                              "missed": missed}, kinds))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
