#!/usr/bin/python3
"""Shot-detection accuracy on real footage (issue 2, "How it is judged").

Builds the ground-truth video of scripts/make-groundtruth.py (real sample
footage joined by hard cuts, dissolves, fades through black and white, every
transition's frames known) and runs `vcurate detect` on it with the `content`
and `adaptive` detectors at their default settings. Asserts, per detector:
  * F1 >= 0.95 with +-2 frames tolerance, a gradual transition counting as
    found when a detected boundary falls inside it (tests/detect/shot_score.py,
    the rule of eval_common.c's eval_match, which detect_eval applies);
  * `vcurate detect` reports the same events as the detector library driven by
    detect_eval, and both scorers give the same counts;
  * no clip (after the default length/crop rules) straddles a ground-truth
    transition: holds a cut between two of its frames, or any frame of a
    dissolve or fade; and no scene does either once its first and last
    2 frames (the tolerance) are set aside.

Samples come from scripts/fetch-samples.sh (Debian and npm packages) into
$VCURATE_SAMPLES or <source>/samples; the ground truth is cached there and
rebuilt only when make-groundtruth.py changes. When the samples cannot be
fetched (no network, no apt/npm) the test is skipped (exit 77) with the reason.

Usage: test_accuracy.py VCURATE DETECT_EVAL SOURCE_ROOT"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shot_score  # noqa: E402

SKIP = 77
MIN_F1 = 0.95
TOL = 2
ALGOS = ("content", "adaptive")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def needed_samples(root):
    """Sample files the ground truth is built from (make-groundtruth.py's SEGMENTS)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_groundtruth",
                                                  os.path.join(root, "scripts", "make-groundtruth.py"))
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except ImportError as e:   # numpy missing
        skip(f"make-groundtruth.py cannot run with /usr/bin/python3: {e}")
    return sorted({s[0] for s in mod.SEGMENTS})


def ensure_samples(root, samples):
    need = needed_samples(root)
    missing = [n for n in need if not os.path.isfile(os.path.join(samples, n))]
    if not missing:
        return
    print(f"fetching samples into {samples} (missing: {', '.join(missing)})", flush=True)
    try:
        p = subprocess.run([os.path.join(root, "scripts", "fetch-samples.sh"), samples],
                           capture_output=True, text=True, timeout=900)
        log = (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        log = str(e)
    print(log)
    missing = [n for n in need if not os.path.isfile(os.path.join(samples, n))]
    if missing:
        warn = [ln for ln in log.splitlines() if "warning" in ln or "failed" in ln]
        skip("cannot fetch the sample footage the ground truth is built from "
             f"({', '.join(missing)} missing after scripts/fetch-samples.sh: "
             f"{'; '.join(warn[-3:]) or 'no network?'})")


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout)


def straddles(start, end, gt):
    """Transitions a span of frames [start, end) crosses."""
    bad = []
    for first, last, kind in gt:
        if first == last:          # cut: first frame of the new shot
            if start < first < end:
                bad.append((first, last, kind))
        elif start <= last and end - 1 >= first:
            bad.append((first, last, kind))
    return bad


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    vcurate, detect_eval, root = (os.path.abspath(a) for a in sys.argv[1:])
    samples = os.path.abspath(os.environ.get("VCURATE_SAMPLES") or os.path.join(root, "samples"))
    os.makedirs(samples, exist_ok=True)
    ensure_samples(root, samples)
    base = os.path.join(samples, "groundtruth")
    subprocess.run(["/usr/bin/python3", os.path.join(root, "scripts", "make-groundtruth.py"),
                    "--samples", samples, "--out", base, "--if-missing"], check=True, timeout=1800)
    meta, gt = shot_score.load_gt(base + ".json")
    video = base + ".mp4"
    kinds = sorted({k for _, _, k in gt})
    print(f"ground truth: {video}, {meta['frames']} frames, {len(gt)} transitions "
          f"({', '.join(f'{sum(1 for t in gt if t[2] == k)} {k}' for k in kinds)}), tolerance +-{TOL} frames")

    failures = []
    print(f"{'detector':<10} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>7} {'F1':>6}")
    for algo in ALGOS:
        cli = run_json([vcurate, "detect", "--splitting-algorithm", algo, video])
        lib = run_json([detect_eval, "--algo", algo, "--tol", str(TOL), "--gt", base + ".json", video])
        ev = shot_score.vcurate_events(cli)
        s = shot_score.match(gt, ev, TOL)
        print(f"{algo:<10} {s['tp']:>3} {s['fp']:>3} {s['fn']:>3} {s['precision']:>9.3f} "
              f"{s['recall']:>7.3f} {s['f1']:>6.3f}")
        for first, last, kind in s["missed"]:
            print(f"  missed {kind} {first}..{last}")
        for first, last in s["false_positives"]:
            print(f"  false positive {first}..{last}")
        if s["f1"] < MIN_F1:
            failures.append(f"{algo}: F1 {s['f1']:.3f} < {MIN_F1}")
        lib_ev = [(e["first"], e["last"]) for e in lib["events"]]
        if lib_ev != ev:
            failures.append(f"{algo}: vcurate detect events {ev} differ from the detector library's {lib_ev}")
        c = lib["score"]
        if (c["tp"], c["fp"], c["fn"]) != (s["tp"], s["fp"], s["fn"]):
            failures.append(f"{algo}: eval_match counts {c['tp']}/{c['fp']}/{c['fn']} differ from "
                            f"shot_score's {s['tp']}/{s['fp']}/{s['fn']}")
        if cli.get("num_frames") not in (None, meta["frames"]):
            failures.append(f"{algo}: detect saw {cli['num_frames']} frames, ground truth has {meta['frames']}")
        for what, margin in (("scenes", TOL), ("clips", 0)):
            for sp in cli[what]:
                bad = straddles(sp["start_frame"] + margin, sp["end_frame"] - margin, gt)
                if bad:
                    failures.append(f"{algo}: {what[:-1]} [{sp['start_frame']}, {sp['end_frame']}) "
                                    f"straddles ground-truth transition(s) {bad}")
        if not cli["clips"]:
            failures.append(f"{algo}: no clips")

    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
