"""Shot-boundary scoring shared by tests/detect/test_accuracy.py and
bench/accuracy/compare.py: one matching rule for every detector.

The rule is the one tests/detect/eval_common.c (eval_match) implements, and
test_accuracy.py checks that both give identical counts:
  a detection [first, last] (a single frame for a cut or a point detector)
  matches a ground-truth transition [gt.first, gt.last] when the two ranges
  intersect after widening the ground truth by `tol` frames on each side
  (so a cut is found within +-tol frames, and a dissolve/fade is found when a
  detected boundary falls inside it, +-tol); detections are taken in order and
  each takes the first ground-truth transition not matched yet; each side is
  matched at most once (a second detection inside one dissolve is a false
  positive).
"""
import json
import re


def load_gt(path):
    with open(path) as f:
        meta = json.load(f)
    return meta, [(t["first"], t["last"], t["type"]) for t in meta["transitions"]]


def match(gt, events, tol=2):
    """gt: [(first, last, type)], events: [(first, last)] -> dict of counts and scores."""
    used = [False] * len(gt)
    tp = fp = 0
    found = []   # per event: index of the ground-truth transition it matched, or None
    for ef, el in events:
        hit = None
        for j, (gf, gl, _) in enumerate(gt):
            if not used[j] and ef <= gl + tol and el >= gf - tol:
                used[j] = True
                hit = j
                break
        found.append(hit)
        if hit is None:
            fp += 1
        else:
            tp += 1
    fn = len(gt) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(gt) if gt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    missed = [gt[j] for j in range(len(gt)) if not used[j]]
    false_pos = [events[i] for i in range(len(events)) if found[i] is None]
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1,
            "missed": missed, "false_positives": false_pos}


def vcurate_events(detect_json):
    """Events of `vcurate detect` output: (first_frame, last_frame) per transition."""
    return [(t["first_frame"], t["last_frame"]) for t in detect_json["transitions"]]


_FRAME = re.compile(r"^frame:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:\s*(\S+)")


def parse_metadata_print(text):
    """Parses ffmpeg's `metadata=mode=print` output into [(pts_time, {key: value})]."""
    frames = []
    for line in text.splitlines():
        m = _FRAME.match(line)
        if m:
            t = m.group(3)
            frames.append((float(t) if t != "NOPTS" else None, {}))
        elif "=" in line and frames:
            k, v = line.strip().split("=", 1)
            frames[-1][1][k] = v
    return frames


def time_to_frame(t, fps, t0=0.0):
    """Frame index of a presentation time in a constant-rate video starting at t0."""
    return int(round((t - t0) * fps))
