"""Writes the checkpoints test_weights.c reads, and manifest.json with what
Python saved in them (values as float32, shapes, strides, expected errors).

Usage: /usr/bin/python3 gen_checkpoints.py OUTDIR
Exits 77 (meson's "skipped") when torch cannot be imported.
"""
import collections
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

try:
    import torch
    import torch._tensor
    import torch._utils
except ImportError as e:
    print(f"skipping: this python cannot import torch ({e})", file=sys.stderr)
    sys.exit(77)

OUT = sys.argv[1]
torch.manual_seed(0)

manifest = {"checkpoints": [], "errors": [], "fuzz": []}


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def describe(t, with_stride=True):
    """What the C reader must report for tensor t, values as float32."""
    d = {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "values": t.detach().float().flatten().tolist(),
    }
    if with_stride:
        d["stride"] = list(t.stride())
    return d


def expect(rel, tensors, views=(), unreadable=None, with_stride=True, fuzz=False):
    manifest["checkpoints"].append({
        "path": rel,
        "tensors": {k: describe(v, with_stride) for k, v in tensors.items()},
        "views": [list(v) for v in views],
        "unreadable": unreadable or {},
    })
    if fuzz:
        manifest["fuzz"].append(rel)


def expect_error(rel, contains):
    manifest["errors"].append({"path": rel, "contains": contains})


def view_delta(a, b):
    """Byte distance from b's first element to a's, when they share a storage."""
    return (a.storage_offset() - b.storage_offset()) * a.element_size()


# ---- torch.save state dicts ----

def plain_state_dict():
    base = torch.randn(12)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3)
    sd["f16"] = torch.randn(3, 2).half()
    sd["bf16"] = torch.randn(5).bfloat16()
    sd["f64"] = torch.randn(2, 2, dtype=torch.float64)
    sd["i64"] = torch.tensor([1, -2, 3, 1 << 40], dtype=torch.int64)
    sd["i32"] = torch.tensor([[7, -8]], dtype=torch.int32)
    sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["scalar_i64"] = torch.tensor(42)
    sd["empty"] = torch.zeros(0, 3)
    sd["conv.weight"] = torch.randn(4, 3, 2, 2)
    w = torch.randn(3, 4)
    sd["transposed"] = w.t()                      # strides (1, 4)
    sd["permuted"] = torch.randn(2, 3, 4).permute(2, 0, 1)
    sd["view_a"] = base[2:8]                      # one storage, offset 2
    sd["view_b"] = base.view(3, 4)
    sd["every_other"] = base[1::2]                # stride 2
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
    sd["f16_transposed"] = torch.randn(2, 3).half().t()
    return sd


sd = plain_state_dict()
torch.save(sd, path("plain.pth"))
expect("plain.pth", sd, views=[("view_a", "view_b", view_delta(sd["view_a"], sd["view_b"])),
                               ("every_other", "view_b", view_delta(sd["every_other"], sd["view_b"]))],
       fuzz=True)

# A real model's state_dict: carries _metadata (a BUILD on the OrderedDict)
# and BatchNorm's int64 num_batches_tracked.
model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                            torch.nn.Flatten(), torch.nn.Linear(4, 2))
model[1].running_mean.uniform_()
torch.save(model.state_dict(), path("module.pt"))
expect("module.pt", model.state_dict())

# Pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL...).
torch.save(sd, path("proto4.pth"), pickle_protocol=4)
expect("proto4.pth", sd)

# A training checkpoint: the state dict nested beside an optimizer whose
# state also holds tensors (under int keys) and plain Python values.
opt = torch.optim.Adam(model.parameters())
model(torch.randn(2, 3, 3, 3)).sum().backward()
opt.step()
torch.save({"epoch": 3, "best": 0.25, "name": "run-1", "flags": [True, None],
            "state_dict": model.state_dict(), "optimizer": opt.state_dict()},
           path("nested.pth"))
expect("nested.pth", model.state_dict())
torch.save({"model": {"net": sd}}, path("nested_deep.pth"))
expect("nested_deep.pth", sd)

# Sharded PyTorch checkpoint, one shard in a subfolder.
names = list(sd)
half = len(names) // 2
shard_files = ["pytorch_model-00001-of-00002.bin", "sub/pytorch_model-00002-of-00002.bin"]
weight_map = {}
for shard, part in zip(shard_files, (names[:half], names[half:])):
    torch.save(collections.OrderedDict((n, sd[n]) for n in part), path("sharded_pt", shard))
    weight_map.update({n: shard for n in part})
with open(path("sharded_pt", "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": 1234}, "weight_map": weight_map}, f, indent=2)
expect("sharded_pt/pytorch_model.bin.index.json", {n: sd[n] for n in weight_map})


# ---- hand-built pickles: what newer torch versions write ----

class StorageRef:
    def __init__(self, storage_type, key, numel):
        self.pid = ("storage", storage_type, key, "cpu", numel)


class Call:
    """Pickles as fn(*args), like any object with __reduce__."""
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class ArchivePickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, StorageRef) else None


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """Stand-in for torch >= 2.0's, which torch 1.13 lacks."""
    return torch.nn.Parameter(data, requires_grad)


_rebuild_parameter_with_state.__module__ = "torch._utils"
torch._utils._rebuild_parameter_with_state = _rebuild_parameter_with_state


def write_archive(p, top, pickled, storages, extra=(), compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(p, "w", compression) as z:
        z.writestr(f"{top}/data.pkl", pickled)
        z.writestr(f"{top}/byteorder", "little")
        for key, data in storages.items():
            z.writestr(f"{top}/data/{key}", data)
        for name, data in extra:
            z.writestr(f"{top}/{name}", data)
        z.writestr(f"{top}/version", "3\n")
        z.writestr(f"{top}/.data/serialization_id", "1234567890")


def handmade(protocol):
    floats = torch.arange(6, dtype=torch.float32) * 1.5
    v2 = torch._utils._rebuild_tensor_v2
    hooks = collections.OrderedDict()
    fs = StorageRef(torch.FloatStorage, "0", 6)
    od = collections.OrderedDict()
    od["from_type"] = Call(torch._tensor._rebuild_from_type_v2,
                           (v2, torch.Tensor, (fs, 1, (2, 2), (1, 2), False, hooks), {"attr": 1}))
    od["param_state"] = Call(_rebuild_parameter_with_state,
                             (Call(v2, (fs, 0, (3,), (2,), False, hooks)), True, hooks, {"x": 1}))
    od["raw_bytes"] = Call(v2, (StorageRef(torch.UntypedStorage, "1", 4), 0, (4,), (1,), False, hooks))
    od["with_metadata"] = Call(v2, (fs, 2, (4,), (1,), False, hooks, {"meta": True}))
    od["size"] = torch.Size([2, 3])
    od["blob"] = b"\x00bytes\xff"
    od["big_int"] = -(1 << 62)
    od["huge_int"] = 1 << 100
    od["set"] = {1, 2}
    buf = __import__("io").BytesIO()
    ArchivePickler(buf, protocol=protocol).dump(od)
    rel = f"handmade_p{protocol}.pth"
    write_archive(path(rel), "renamed_top", buf.getvalue(),
                  {"0": floats.numpy().tobytes(), "1": bytes([1, 2, 250, 255])})
    # torch 1.13's _rebuild_tensor_v2 predates the metadata argument
    def v2_with_metadata(*args):
        return v2(*args[:6])
    torch._utils._rebuild_tensor_v2 = v2_with_metadata
    try:
        loaded = torch.load(path(rel))
    finally:
        torch._utils._rebuild_tensor_v2 = v2
    expect(rel, {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}, fuzz=protocol == 4)


handmade(2)
handmade(4)


# ---- ZIP variants of plain.pth ----

with zipfile.ZipFile(path("plain.pth")) as z:
    plain_members = [(i.filename.replace("plain/", "checkpoint/", 1), z.read(i)) for i in z.infolist()]

# Python's zipfile with force_zip64: ZIP64 extra fields in the local headers only.
with zipfile.ZipFile(path("zip64_local.pth"), "w", zipfile.ZIP_STORED) as z:
    for name, data in plain_members:
        with z.open(name, "w", force_zip64=True) as f:
            f.write(data)
expect("zip64_local.pth", sd)


def write_zip64(p, members, gap=0):
    """A stored ZIP written as a >4 GiB torch checkpoint is: ZIP64 extra fields
    in local and central headers, ZIP64 end of central directory and locator,
    saturated 32-bit fields, 64-byte aligned data. `gap` leaves a hole (sparse
    on disk) before the second member so later offsets exceed 4 GiB."""
    with open(p, "wb") as f:
        central = []
        for i, (name, data) in enumerate(members):
            if i == 1 and gap:
                f.seek(f.tell() + gap)
            off = f.tell()
            nb = name.encode()
            crc = zlib.crc32(data)
            extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
            pad = (-(off + 30 + len(nb) + len(extra) + 4)) % 64
            extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc,
                                0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra)))
            f.write(nb + extra + data)
            central.append((nb, crc, len(data), off))
        cd_off = f.tell()
        for nb, crc, size, off in central:
            extra = struct.pack("<HHQQQ", 1, 24, size, size, off)
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                                0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF))
            f.write(nb + extra)
        cd_size = f.tell() - cd_off
        eocd64 = f.tell()
        n = len(central)
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_off))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    with zipfile.ZipFile(p) as z:   # Python must agree it is a valid archive
        assert [z.read(name) for name, _ in members] == [d for _, d in members]


write_zip64(path("zip64_small.pth"), plain_members)
expect("zip64_small.pth", sd, fuzz=True)
assert torch.load(path("zip64_small.pth"))["f32"].equal(sd["f32"])

big = path("zip64_big.pth")
write_zip64(big, plain_members, gap=(4 << 30) + 12345)
if os.stat(big).st_blocks * 512 < (1 << 30):
    expect("zip64_big.pth", sd)
else:   # no sparse files here: do not keep 4 GiB around
    os.remove(big)
    print("note: no sparse files in the temp dir, skipping the >4 GiB archive", file=sys.stderr)

# Not readable as state dicts, each for a reason the error must name.
write_archive(path("compressed.pth"), "c", pickle.dumps(collections.OrderedDict(), 2),
              {"0": b"\0" * 400}, compression=zipfile.ZIP_DEFLATED)
expect_error("compressed.pth", "compressed")
with zipfile.ZipFile(path("bigendian.pth"), "w") as z:
    for name, data in plain_members:
        z.writestr(name, b"big" if name.endswith("/byteorder") else data)
    if not any(n.endswith("/byteorder") for n, _ in plain_members):
        z.writestr("checkpoint/byteorder", "big")
expect_error("bigendian.pth", "big-endian")
with zipfile.ZipFile(path("no_storage.pth"), "w") as z:
    for name, data in plain_members:
        if not name.endswith("/data/0"):
            z.writestr(name, data)
expect_error("no_storage.pth", "storage 0 is missing")
torch.save(sd, path("legacy.pth"), _use_new_zipfile_serialization=False)
expect_error("legacy.pth", "legacy")
torch.save(torch.nn.Linear(2, 2), path("whole_model.pth"))
expect_error("whole_model.pth", "torch.nn.modules.linear.Linear")
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path("torchscript.pt"))
expect_error("torchscript.pt", "TorchScript")


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {OUT}/pwned",))


write_archive(path("evil.pth"), "evil", pickle.dumps(collections.OrderedDict(a=Evil()), 2), {})
expect_error("evil.pth", f"{os.system.__module__}.system")

# ---- safetensors, written by hand ----

def raw(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.int8: "I8",
             torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(p, tensors, header_pad=0, dtype_override=None, offsets_override=None):
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for name, t in tensors.items():
        b = raw(t)
        header[name] = {"dtype": (dtype_override or {}).get(name, ST_DTYPES[t.dtype]),
                        "shape": list(t.shape),
                        "data_offsets": (offsets_override or {}).get(name, [off, off + len(b)])}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode() + b" " * header_pad
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


st = collections.OrderedDict()
for name in ("f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8", "bool", "scalar", "empty",
             "conv.weight"):
    st[name] = sd[name].contiguous()
# half-precision corner cases: subnormals, the largest half, signed zero
st["f16_special"] = torch.tensor([2.0 ** -24, 3 * 2.0 ** -24, 2.0 ** -14 * 0.5, 6.1e-5, 65504.0,
                                  -65504.0, -0.0, 1.0 / 3], dtype=torch.float16)
st["bf16_special"] = torch.tensor([1e-40, 3.0e38, -2.5, 1.0 / 3], dtype=torch.bfloat16)
# a header length that is not a multiple of 8 leaves the data unaligned
for pad in (0, 3):
    rel = f"model_pad{pad}.safetensors"
    write_safetensors(path(rel), st, header_pad=pad)
    expect(rel, st, with_stride=False, fuzz=pad == 3)

write_safetensors(path("bad_dtype.safetensors"), {"x": torch.zeros(2)}, dtype_override={"x": "I16"})
expect_error("bad_dtype.safetensors", "unsupported dtype I16")
write_safetensors(path("bad_offsets.safetensors"), {"x": torch.zeros(2)}, offsets_override={"x": [0, 4000]})
expect_error("bad_offsets.safetensors", "data_offsets")
write_safetensors(path("bad_size.safetensors"), {"x": torch.zeros(2)}, offsets_override={"x": [0, 4]})
expect_error("bad_size.safetensors", "need 8 bytes but only 4")

# Sharded safetensors, tensors interleaved across shards.
shards = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
weight_map = {}
for i, name in enumerate(st):
    shard = list(shards)[i % 2]
    shards[shard][name] = st[name]
    weight_map[name] = shard
for shard, tensors in shards.items():
    write_safetensors(path("sharded_st", shard), tensors)
with open(path("sharded_st", "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": 99}, "weight_map": weight_map}, f, indent=2)
expect("sharded_st/model.safetensors.index.json", {n: st[n] for n in weight_map},
       with_stride=False, fuzz=True)

# An index whose shards are partly broken: what is there stays readable.
write_safetensors(path("partial", "shard.safetensors"), {"a": st["f32"]})
with open(path("partial", "model.safetensors.index.json"), "w") as f:
    json.dump({"weight_map": {"a": "shard.safetensors", "b": "missing.safetensors",
                              "c": "shard.safetensors", "d": "model.safetensors.index.json"}}, f)
expect("partial/model.safetensors.index.json", {"a": st["f32"]}, with_stride=False,
       unreadable={"b": "missing.safetensors: cannot open", "c": "not in this shard",
                   "d": "may not name another index"})

with open(path("escape", "model.safetensors.index.json"), "w") as f:
    json.dump({"weight_map": {"a": "../plain.pth"}}, f)
expect_error("escape/model.safetensors.index.json", "inside the index's folder")

open(path("empty.bin"), "wb").close()
expect_error("empty.bin", "empty file")
with open(path("notes.txt"), "w") as f:
    f.write("hello, not weights\n")
expect_error("notes.txt", "not a checkpoint")

with open(path("manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
