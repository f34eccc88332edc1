"""Compare vc_pickle_f16_array_list output with Python's pickle.dumps.

usage: check_pickle.py DIR   (DIR/case_N.pickle + DIR/case_N.shapes written by
test_shard_unit; array i holds uint16 bit patterns (k*7 + i) & 0xffff)
"""
import os
import pickle
import sys

import numpy as np


def expected(shapes):
    arrs = []
    for i, (r, c) in enumerate(shapes):
        k = np.arange(r * c, dtype=np.int64)
        arrs.append(((k * 7 + i) & 0xFFFF).astype(np.uint16).view(np.float16).reshape(r, c))
    return arrs


def main():
    d = sys.argv[1]
    bad = 0
    n = 0
    for name in sorted(os.listdir(d)):
        if not name.endswith(".shapes"):
            continue
        n += 1
        base = os.path.join(d, name[: -len(".shapes")])
        with open(base + ".shapes") as f:
            nums = [int(x) for x in f.read().split()]
        shapes = list(zip(nums[0::2], nums[1::2]))
        with open(base + ".pickle", "rb") as f:
            got = f.read()
        want_arrs = expected(shapes)
        loaded = pickle.loads(got)  # loadable by Python + numpy
        ok = isinstance(loaded, list) and len(loaded) == len(want_arrs) and all(
            a.dtype == np.float16 and a.shape == b.shape and a.tobytes() == b.tobytes()
            for a, b in zip(loaded, want_arrs))
        if not ok:
            print("%s: loads to different arrays" % base)
            bad += 1
        elif got != pickle.dumps(want_arrs, protocol=4):
            print("%s: bytes differ from pickle.dumps(protocol=4)" % base)
            bad += 1
    print("%d of %d pickles differ" % (bad, n))
    sys.exit(1 if bad or n == 0 else 0)


if __name__ == "__main__":
    main()
