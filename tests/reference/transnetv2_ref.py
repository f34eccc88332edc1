#!/usr/bin/python3
"""TransNetV2 in PyTorch, written from the spec (docs: peers.md §1.2-1.4), as
the reference our C runtime is checked against.

Module and parameter names follow the official PyTorch port, so
`torch.save(model.state_dict())` writes a checkpoint laid out like
`transnetv2-pytorch-weights.pth` (90 entries, peers.md §1.4).

Run with /usr/bin/python3 (Debian's python3-torch and numpy):

  transnetv2_ref.py random-weights --seed 1 --pth W.pth --safetensors W.safetensors
      seeded random weights whose outputs spread over (0,1)
  transnetv2_ref.py infer --weights W.pth --frames F.rgb --out PREFIX [--threshold 0.5]
      per-frame probabilities of both heads of a raw rgb24 48x27 frame file,
      with TransNetV2's windowing (PREFIX.reference.txt) and Cosmos Curator's
      (PREFIX.cosmos.txt)
"""
import argparse
import collections
import json
import struct
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional

H, W = 27, 48
FRAME_BYTES = H * W * 3
WINDOW = 100
LOOKUP = 101          # similarity lookup window: frames t-50 .. t+50
BN_EPS = 1e-3


# ---------------------------------------------------------------- the network

class Conv3DConfigurable(nn.Module):
    """(2+1)D conv: spatial (1,3,3) to 2F channels, then temporal (3,1,1)
    with dilation d to F channels; no bias, no activation in between."""

    def __init__(self, cin, f, dilation):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Conv3d(cin, 2 * f, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False),
            nn.Conv3d(2 * f, f, kernel_size=(3, 1, 1), dilation=(dilation, 1, 1),
                      padding=(dilation, 0, 0), bias=False),
        ])

    def forward(self, x):
        return self.layers[1](self.layers[0](x))


class DilatedDCNNV2(nn.Module):
    """Four dilations on the same input, concatenated, BatchNorm, optional ReLU."""

    def __init__(self, cin, f, relu):
        super().__init__()
        self.Conv3D_1 = Conv3DConfigurable(cin, f, 1)
        self.Conv3D_2 = Conv3DConfigurable(cin, f, 2)
        self.Conv3D_4 = Conv3DConfigurable(cin, f, 4)
        self.Conv3D_8 = Conv3DConfigurable(cin, f, 8)
        self.bn = nn.BatchNorm3d(4 * f, eps=BN_EPS)
        self.relu = relu

    def forward(self, x):
        x = torch.cat([self.Conv3D_1(x), self.Conv3D_2(x), self.Conv3D_4(x), self.Conv3D_8(x)], 1)
        x = self.bn(x)
        return functional.relu(x) if self.relu else x


class StackedDDCNNV2(nn.Module):
    """DDCNN(relu) -> DDCNN -> relu, + first output, avg-pool (1,2,2)."""

    def __init__(self, cin, f):
        super().__init__()
        self.DDCNN = nn.ModuleList([DilatedDCNNV2(cin, f, True), DilatedDCNNV2(4 * f, f, False)])
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x):
        shortcut = self.DDCNN[0](x)
        x = functional.relu(self.DDCNN[1](shortcut)) + shortcut
        return self.pool(x)


def similarity_lookup(x):
    """[B,T,D] unit vectors -> [B,T,101]: entry k of frame t is the cosine
    similarity to frame t+k-50, 0 outside the window."""
    b, t, _ = x.shape
    sim = torch.bmm(x, x.transpose(1, 2))
    half = (LOOKUP - 1) // 2
    padded = functional.pad(sim, [half, half])
    rows = torch.arange(t).view(1, t, 1)
    cols = rows + torch.arange(LOOKUP).view(1, 1, LOOKUP)
    return padded[torch.arange(b).view(b, 1, 1), rows, cols]


class FrameSimilarity(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.projection = nn.Linear(cin, 128)
        self.fc = nn.Linear(LOOKUP, 128)

    def forward(self, block_outputs):
        x = torch.cat([o.mean(dim=[3, 4]) for o in block_outputs], 1).transpose(1, 2)
        x = functional.normalize(self.projection(x), p=2, dim=2)
        return functional.relu(self.fc(similarity_lookup(x)))


class ColorHistograms(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(LOOKUP, 128)

    @staticmethod
    def histograms(frames):
        """uint8 [B,T,H,W,3] -> L2-normalised 512-bin RGB histograms [B,T,512]."""
        b, t = frames.shape[:2]
        px = frames.reshape(b * t, -1, 3).long() >> 5
        bins = (px[..., 0] << 6) + (px[..., 1] << 3) + px[..., 2]
        hist = torch.zeros(b * t, 512, dtype=torch.float32)
        hist.scatter_add_(1, bins, torch.ones(bins.shape, dtype=torch.float32))
        return functional.normalize(hist.view(b, t, 512), p=2, dim=2)

    def forward(self, frames):
        return functional.relu(self.fc(similarity_lookup(self.histograms(frames))))


class TransNetV2(nn.Module):
    def __init__(self, f=16):
        super().__init__()
        self.SDDCNN = nn.ModuleList([StackedDDCNNV2(3, f), StackedDDCNNV2(4 * f, 2 * f),
                                     StackedDDCNNV2(8 * f, 4 * f)])
        self.frame_sim_layer = FrameSimilarity(4 * f + 8 * f + 16 * f)
        self.color_hist_layer = ColorHistograms()
        self.fc1 = nn.Linear(16 * f * 3 * 6 + 128 + 128, 1024)
        self.cls_layer1 = nn.Linear(1024, 1)
        self.cls_layer2 = nn.Linear(1024, 1)

    def features(self, frames):
        """uint8 [B,T,27,48,3] -> fc1 output [B,T,1024] (after ReLU)."""
        x = frames.permute(0, 4, 1, 2, 3).float() / 255.0
        blocks = []
        for stack in self.SDDCNN:
            x = stack(x)
            blocks.append(x)
        conv = x.permute(0, 2, 3, 4, 1).reshape(x.shape[0], x.shape[2], -1)
        x = torch.cat([self.color_hist_layer(frames), self.frame_sim_layer(blocks), conv], 2)
        return functional.relu(self.fc1(x))

    def forward(self, frames):
        """Logits of the single-frame and many-hot heads, [B,T,1] each."""
        x = self.features(frames)
        return self.cls_layer1(x), self.cls_layer2(x)


# ------------------------------------------------------------ random weights

def random_model(seed):
    """Seeded weights that make a lively network: fan-in scaled convs, BN
    statistics taken from a noise clip then perturbed (nonzero means, random
    positive variances), and heads scaled so the probabilities spread over
    (0,1) with a minority above 0.5."""
    torch.manual_seed(seed)
    model = TransNetV2().eval()
    gen = torch.Generator().manual_seed(seed + 1)
    for name, p in model.named_parameters():
        if name.endswith("weight") and ".bn." not in name:
            fan_in = p[0].numel()
            p.data.normal_(0.0, 1.0 / fan_in ** 0.5, generator=gen)
        elif ".bn." in name:
            p.data.uniform_(0.5, 1.5, generator=gen) if name.endswith("weight") \
                else p.data.normal_(0.0, 0.2, generator=gen)
        else:
            p.data.normal_(0.0, 0.1, generator=gen)
    calib = synthetic_clip(gen)
    with torch.no_grad():
        calibrate_batchnorm(model, calib, gen)
        # Zero-sum rows: outputs follow the input's variations, not the
        # (input-dependent) mean level of the ReLU features before them.
        model.fc1.weight.sub_(model.fc1.weight.mean(1, keepdim=True))
        x = model.features(calib)
        for cls in (model.cls_layer1, model.cls_layer2):
            cls.weight.sub_(cls.weight.mean())
            logits = x @ cls.weight.t()
            cls.weight.mul_(2.5 / logits.std())
            cls.bias.fill_(-float((logits * 2.5 / logits.std()).mean()) - 1.0)
    return model


def synthetic_clip(gen, shots=6, shot_len=8):
    """Video-like uint8 frames [1,T,27,48,3]: shots alternate smooth and
    blocky random images that drift, with hard cuts between shots."""
    frames = []
    for k in range(shots):
        low = (4, 7) if k % 2 == 0 else (9, 16)
        mode = "bilinear" if k % 2 == 0 else "nearest"
        base = torch.rand(1, 3, *low, generator=gen) * 255
        for i in range(shot_len):
            img = functional.interpolate(base, size=(H + 4, W + 4), mode=mode)
            img = img[:, :, i % 4:i % 4 + H, i % 3:i % 3 + W] + i * 1.5
            img = img + torch.randn(img.shape, generator=gen) * 4
            frames.append(img[0].permute(1, 2, 0))
    return torch.stack(frames).clamp(0, 255).to(torch.uint8).unsqueeze(0)


def calibrate_batchnorm(model, frames, gen):
    """Running statistics near the real ones (one pass in training mode),
    so activations keep their scale through the six DDCNNs, then perturbed
    so that folding them is exercised."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]
    for bn in bns:
        bn.train()
        bn.momentum = 1.0           # running stats := this batch's stats
    model(frames)
    for bn in bns:
        bn.eval()
        bn.running_mean.add_(torch.randn(bn.running_mean.shape, generator=gen) * 0.1
                             * bn.running_var.sqrt())
        bn.running_var.mul_(torch.empty(bn.running_var.shape).uniform_(0.7, 1.4, generator=gen))
        bn.num_batches_tracked.zero_()


# ------------------------------------------------------- checkpoint files

def save_safetensors(state, path):
    """safetensors by hand (the Python package is not in Debian): 8-byte LE
    header size, JSON header, then the tensors' bytes."""
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = collections.OrderedDict(), [], 0
    for name, t in state.items():
        data = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    np_dtypes = {"F32": np.float32, "I64": np.int64, "F16": np.float16, "F64": np.float64}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    state = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=np_dtypes[info["dtype"]])
        state[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return state


def load_model(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    state = torch.load(path, map_location="cpu") if magic == b"PK\x03\x04" else load_safetensors(path)
    model = TransNetV2().eval()
    model.load_state_dict(state)
    return model


# ---------------------------------------------------------------- windowing

def reference_windows(n):
    """TransNetV2's predict_frames: 25 copies of frame 0 in front, the last
    frame repeated to a multiple of 50 plus 25, windows of 100 at stride 50.
    Returns each window as a list of frame indices."""
    pad_end = 25 + 50 - (n % 50 or 50)
    padded = [0] * 25 + list(range(n)) + [n - 1] * pad_end
    return [padded[p:p + WINDOW] for p in range(0, len(padded) - WINDOW + 1, 50)]


def cosmos_windows(n):
    """Cosmos Curator's _get_batches: same stride, but the tail windows are
    left short (its end padding never triggers)."""
    wins = []
    for i in range(0, n + (-n % 50), 50):
        idx = list(range(max(i - 25, 0), min(i + 75, n)))
        if i < 25:
            idx = [0] * (25 - i) + idx
        wins.append(idx)
    return wins


def assemble(window_probs, n):
    """Keep outputs [25:75] of every window, concatenate, cut to n frames."""
    return np.concatenate([p[25:75] for p in window_probs])[:n]


def run_windows(model, frames, windows):
    """Sigmoid of both heads for each window: list of ([T], [T]) arrays."""
    out = []
    with torch.no_grad():
        for idx in windows:
            single, many = model(torch.from_numpy(frames[idx]).unsqueeze(0))
            out.append((torch.sigmoid(single[0, :, 0]).numpy(), torch.sigmoid(many[0, :, 0]).numpy()))
    return out


def predictions_to_scenes(pred, threshold):
    """TransNetV2's inclusive [start, end] scenes from single-frame probabilities."""
    binary = pred > threshold
    scenes, t_prev, start = [], False, 0
    for i, t in enumerate(binary):
        if t_prev and not t:
            start = i
        if not t_prev and t and i != 0:
            scenes.append([start, i])
        t_prev = t
    if not t_prev:
        scenes.append([start, len(binary) - 1])
    return scenes or [[0, len(binary) - 1]]


def read_frames(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % FRAME_BYTES:
        sys.exit(f"{path}: not a whole number of 48x27 rgb24 frames")
    return raw.reshape(-1, H, W, 3)


# ---------------------------------------------------------------------- CLI

def cmd_random_weights(args):
    state = random_model(args.seed).state_dict()
    if args.pth:
        torch.save(state, args.pth)
    if args.safetensors:
        save_safetensors(state, args.safetensors)


def cmd_infer(args):
    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    frames = read_frames(args.frames)
    n = len(frames)
    for label, windows in (("reference", reference_windows(n)), ("cosmos", cosmos_windows(n))):
        probs = run_windows(model, frames, windows)
        single = assemble([p[0] for p in probs], n)
        many = assemble([p[1] for p in probs], n)
        path = f"{args.out}.{label}.txt"
        with open(path, "w") as f:
            f.write("# frame single many\n")
            for i in range(n):
                f.write(f"{i} {single[i]:.9g} {many[i]:.9g}\n")
        scenes = predictions_to_scenes(single, args.threshold)
        print(f"{label}: {n} frames, {len(windows)} windows, single in [{single.min():.3f}, "
              f"{single.max():.3f}], {len(scenes)} scenes at {args.threshold} -> {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rw = sub.add_parser("random-weights", help="write seeded random weights")
    rw.add_argument("--seed", type=int, default=1)
    rw.add_argument("--pth")
    rw.add_argument("--safetensors")
    inf = sub.add_parser("infer", help="per-frame probabilities of a raw rgb24 48x27 file")
    inf.add_argument("--weights", required=True)
    inf.add_argument("--frames", required=True)
    inf.add_argument("--out", required=True, help="output prefix")
    inf.add_argument("--threshold", type=float, default=0.5)
    inf.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    {"random-weights": cmd_random_weights, "infer": cmd_infer}[args.cmd](args)


if __name__ == "__main__":
    main()
