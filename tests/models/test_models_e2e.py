"""End-to-end tests of `vcurate models` against a local fake of Hugging Face.

usage: test_models_e2e.py MODELS_DRIVER [unittest args]

The fake hub (fake_hub.py) serves the registry's repos with small random
checkpoints written by torch: TransNetV2 with its real 90 tensors, a small
T5-shaped model (encoder, decoder, lm_head; tied, strided, fp16 and bf16
tensors) as pytorch_model.bin and as a sharded safetensors index, a small
CLIP and the aesthetic MLP. Checks: 401 without a token and a useful
message; the token goes to the hub only, never to the CDN, never into any
output or file; dropped connections and interrupted runs resume with ranged
GETs; verify finds corrupted and truncated files and the printed fix command
repairs them; --encoder-only writes exactly encoder.* + shared.weight with
identical values.
"""

import hashlib
import io
import json
import os
import shutil
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_hub  # noqa: E402

DRIVER = None
# Tensor checks and --encoder-only need the checkpoint reader (src/nn/io).
HAVE_NNIO = os.environ.get("VC_MODELS_HAVE_NNIO", "1") == "1"
needs_nnio = unittest.skipUnless(HAVE_NNIO, "built without the checkpoint reader (src/nn/io)")
TOKEN = "hf_" + hashlib.sha256(os.urandom(16)).hexdigest()[:34]
OUTPUTS = []          # every stdout/stderr, checked for the token at the end
ROOT = tempfile.mkdtemp(prefix="vc_models_e2e_")

REV = {
    "Sn4kehead/TransNetV2": "db6ceabeb692ec71ecc6beb6d00db67ad1412d7f",
    "google-t5/t5-11b": "90f37703b3334dfe9d2b009bfcbfbf1ac9d28ea3",
    "openai/clip-vit-large-patch14": "32bd64288804d66eefd0ccbe215aa642df71cc41",
    "ttj/sac-logos-ava1-l14-linearMSE": "1e77fa05081323d99725fc40a9bf9f88180490e7",
}

ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
             "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "I8": torch.int8, "BOOL": torch.bool}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}


def st_bytes(tensors, metadata=None):
    """A safetensors file (as the reference writer lays it out)."""
    hdr = {}
    if metadata:
        hdr["__metadata__"] = metadata
    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    blobs, off = [], 0
    for k in order:
        t = tensors[k].contiguous()
        b = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        hdr[k] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def st_read(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = ST_DTYPES[v["dtype"]]
        if e > s:
            out[k] = torch.frombuffer(bytearray(data[s:e]), dtype=dt).reshape(v["shape"])
        else:
            out[k] = torch.empty(v["shape"], dtype=dt)
    return n, hdr, out


def torch_bytes(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def transnet_state_dict():
    g = torch.Generator().manual_seed(1)
    sd = {}
    in_ch = [[3, 64], [64, 128], [128, 256]]
    for i in range(3):
        f = 16 << i
        for j in range(2):
            for d in (1, 2, 4, 8):
                p = "SDDCNN.%d.DDCNN.%d.Conv3D_%d.layers." % (i, j, d)
                sd[p + "0.weight"] = torch.randn(2 * f, in_ch[i][j], 1, 3, 3, generator=g)
                sd[p + "1.weight"] = torch.randn(f, 2 * f, 3, 1, 1, generator=g)
            for b in ("weight", "bias", "running_mean", "running_var"):
                sd["SDDCNN.%d.DDCNN.%d.bn.%s" % (i, j, b)] = torch.randn(4 * f, generator=g)
            sd["SDDCNN.%d.DDCNN.%d.bn.num_batches_tracked" % (i, j)] = torch.tensor(0)
    for name, shape in [("frame_sim_layer.projection.weight", (128, 448)), ("frame_sim_layer.projection.bias", (128,)),
                        ("frame_sim_layer.fc.weight", (128, 101)), ("frame_sim_layer.fc.bias", (128,)),
                        ("color_hist_layer.fc.weight", (128, 101)), ("color_hist_layer.fc.bias", (128,)),
                        ("fc1.weight", (1024, 4864)), ("fc1.bias", (1024,)), ("cls_layer1.weight", (1, 1024)),
                        ("cls_layer1.bias", (1,)), ("cls_layer2.weight", (1, 1024)), ("cls_layer2.bias", (1,))]:
        sd[name] = torch.randn(*shape, generator=g)
    assert len(sd) == 90
    return sd


T5_CONFIG = {"d_model": 8, "d_kv": 4, "num_heads": 2, "d_ff": 16, "num_layers": 2, "num_decoder_layers": 2,
             "vocab_size": 40, "relative_attention_num_buckets": 32, "feed_forward_proj": "relu",
             "model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}


def t5_state_dict():
    """A small T5 as transformers names it; tied embeddings share storage,
    one tensor is a transposed view, and fp16/bf16 tensors are mixed in."""
    g = torch.Generator().manual_seed(2)
    c = T5_CONFIG
    D, V, F, I = c["d_model"], c["vocab_size"], c["d_ff"], c["num_heads"] * c["d_kv"]
    sd = {}
    shared = torch.randn(V, D, generator=g)
    sd["shared.weight"] = shared
    sd["encoder.embed_tokens.weight"] = shared
    sd["decoder.embed_tokens.weight"] = shared
    for side in ("encoder", "decoder"):
        for i in range(c["num_layers"]):
            p = "%s.block.%d.layer." % (side, i)
            for x in "qkv":
                sd[p + "0.SelfAttention.%s.weight" % x] = torch.randn(I, D, generator=g)
            sd[p + "0.SelfAttention.o.weight"] = torch.randn(I, D, generator=g).t()  # strided view
            if i == 0:
                sd[p + "0.SelfAttention.relative_attention_bias.weight"] = torch.randn(32, c["num_heads"], generator=g)
            sd[p + "0.layer_norm.weight"] = torch.randn(D, generator=g)
            ff = "1"
            if side == "decoder":
                for x in "qkvo":
                    sd[p + "1.EncDecAttention.%s.weight" % x] = torch.randn(I, D, generator=g)
                sd[p + "1.layer_norm.weight"] = torch.randn(D, generator=g)
                ff = "2"
            sd[p + ff + ".DenseReluDense.wi.weight"] = torch.randn(F, D, generator=g)
            sd[p + ff + ".DenseReluDense.wo.weight"] = torch.randn(D, F, generator=g)
            sd[p + ff + ".layer_norm.weight"] = torch.randn(D, generator=g)
        sd[side + ".final_layer_norm.weight"] = torch.randn(D, generator=g)
    sd["lm_head.weight"] = torch.randn(V, D, generator=g)
    sd["encoder.block.1.layer.1.DenseReluDense.wo.weight"] = sd["encoder.block.1.layer.1.DenseReluDense.wo.weight"].half()
    sd["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = \
        sd["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].bfloat16()
    return sd


CLIP_CONFIG = {"projection_dim": 6, "vision_config": {"hidden_size": 8, "intermediate_size": 12,
                                                      "num_hidden_layers": 2, "patch_size": 4, "image_size": 8,
                                                      "num_channels": 3}}


def clip_state_dict():
    g = torch.Generator().manual_seed(3)
    v = CLIP_CONFIG["vision_config"]
    H, M, P = v["hidden_size"], v["intermediate_size"], v["patch_size"]
    npos = (v["image_size"] // P) ** 2 + 1
    sd = {"vision_model.embeddings.class_embedding": torch.randn(H, generator=g),
          "vision_model.embeddings.patch_embedding.weight": torch.randn(H, 3, P, P, generator=g),
          "vision_model.embeddings.position_embedding.weight": torch.randn(npos, H, generator=g),
          "vision_model.pre_layrnorm.weight": torch.randn(H, generator=g),
          "vision_model.pre_layrnorm.bias": torch.randn(H, generator=g),
          "vision_model.post_layernorm.weight": torch.randn(H, generator=g),
          "vision_model.post_layernorm.bias": torch.randn(H, generator=g),
          "visual_projection.weight": torch.randn(CLIP_CONFIG["projection_dim"], H, generator=g),
          "text_model.embeddings.token_embedding.weight": torch.randn(10, H, generator=g)}
    for i in range(v["num_hidden_layers"]):
        p = "vision_model.encoder.layers.%d." % i
        for x in ("q_proj", "k_proj", "v_proj", "out_proj"):
            sd[p + "self_attn.%s.weight" % x] = torch.randn(H, H, generator=g)
            sd[p + "self_attn.%s.bias" % x] = torch.randn(H, generator=g)
        for k in (1, 2):
            sd[p + "layer_norm%d.weight" % k] = torch.randn(H, generator=g)
            sd[p + "layer_norm%d.bias" % k] = torch.randn(H, generator=g)
        sd[p + "mlp.fc1.weight"] = torch.randn(M, H, generator=g)
        sd[p + "mlp.fc1.bias"] = torch.randn(M, generator=g)
        sd[p + "mlp.fc2.weight"] = torch.randn(H, M, generator=g)
        sd[p + "mlp.fc2.bias"] = torch.randn(H, generator=g)
    return sd


def aesthetic_state_dict():
    g = torch.Generator().manual_seed(4)
    dims = [768, 1024, 128, 64, 16, 1]
    sd = {}
    for k, idx in enumerate([0, 2, 4, 6, 7]):
        sd["layers.%d.weight" % idx] = torch.randn(dims[k + 1], dims[k], generator=g)
        sd["layers.%d.bias" % idx] = torch.randn(dims[k + 1], generator=g)
    return sd


class ModelsE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = fake_hub.FakeHub(TOKEN)
        cls.tnet = torch_bytes(transnet_state_dict())
        cls.t5_sd = t5_state_dict()
        cls.t5_bin = torch_bytes(cls.t5_sd)
        cls.fake.add("Sn4kehead/TransNetV2", {"transnetv2-pytorch-weights.pth": cls.tnet})
        cls.fake.add("google-t5/t5-11b", {"config.json": json.dumps(T5_CONFIG).encode(),
                                          "spiece.model": os.urandom(3000),
                                          "pytorch_model.bin": cls.t5_bin})
        cls.fake.add("openai/clip-vit-large-patch14", {"config.json": json.dumps(CLIP_CONFIG).encode(),
                                                       "model.safetensors": st_bytes(clip_state_dict())})
        cls.fake.add("ttj/sac-logos-ava1-l14-linearMSE", {"model.safetensors": st_bytes(aesthetic_state_dict())})
        cls.home = os.path.join(ROOT, "home")
        cls.hf_home_token = os.path.join(ROOT, "hf_with_token")
        cls.hf_home_empty = os.path.join(ROOT, "hf_empty")
        for d in (cls.home, cls.hf_home_token, cls.hf_home_empty):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(cls.hf_home_token, "token"), "w") as f:
            f.write(TOKEN + "\n")
        # a self-signed certificate for 127.0.0.1, for the https tests
        cls.cert = os.path.join(ROOT, "cert.pem")
        cls.key = os.path.join(ROOT, "key.pem")
        cls.have_cert = shutil.which("openssl") is not None and subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", cls.key, "-out", cls.cert],
            capture_output=True).returncode == 0

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()

    def setUp(self):
        self.fake.drop_after.clear()
        self.fake.fail_hub.clear()
        self.fake.corrupt_once.clear()
        self.fake.ignore_range.clear()
        self.fake.throttle = 0
        self.fake.gated = True
        self.fake.echo_bad_token = False
        self.dir = os.path.join(ROOT, "models_" + self._testMethodName)
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, token="file"):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING_FACE", "VCURATE_", "XDG_"))}
        env["HOME"] = self.home
        env["HF_ENDPOINT"] = self.fake.endpoint
        env["HF_HOME"] = self.hf_home_token if token == "file" else self.hf_home_empty
        if token == "env":
            env["HF_TOKEN"] = TOKEN
        elif token not in ("file", None):
            env["HF_TOKEN"] = token
        return env

    def run_models(self, *args, token="file", fast=True, expect=None, endpoint=None, extra_env=None):
        cmd = [DRIVER] + list(args)
        if "download" in args:
            if fast:
                cmd += ["--retry-wait", "0.05"]
        if "--model-weights-path" not in args and args and args[0] != "--help":
            cmd += ["--model-weights-path", self.dir]
        env = self.env(token)
        if endpoint:
            env["HF_ENDPOINT"] = endpoint
        env.update(extra_env or {})
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        OUTPUTS.append(p.stdout + p.stderr)
        if expect is not None:
            self.assertEqual(p.returncode, expect, "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                p.returncode, expect, p.stdout, p.stderr))
        return p

    def path(self, repo, f):
        return os.path.join(self.dir, repo, f)

    def sha(self, path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    # ---------------------------------------------------------------- tests

    def test_help_and_list(self):
        p = self.run_models("--help", expect=0)
        for w in ("list", "download", "verify", "--encoder-only", "--keep-full", "HF_TOKEN", "HF_ENDPOINT",
                  "--model-weights-path", "--recheck"):
            self.assertIn(w, p.stdout)
        p = self.run_models("list", expect=0)
        for repo, rev in REV.items():
            self.assertIn("%s @ %s" % (repo, rev), p.stdout)
        self.assertEqual(p.stdout.count("not downloaded"), 4)
        self.assertIn(os.path.join(self.dir, "Sn4kehead/TransNetV2"), p.stdout)
        self.assertIn("Apache-2.0", p.stdout)
        p = self.run_models("download", "--models", "nope", expect=2)
        self.assertIn("unknown model 'nope'", p.stderr)
        p = self.run_models("verify", "--keep-full", expect=2)

    def test_401_without_token(self):
        p = self.run_models("download", "--models", "transnetv2", token=None, expect=1)
        self.assertIn("401", p.stderr)
        self.assertIn("HF_TOKEN", p.stderr)
        self.assertIn("Accept its license at %s/Sn4kehead/TransNetV2" % self.fake.endpoint, p.stderr)
        self.assertFalse(os.path.exists(self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")))
        self.assertEqual(self.fake.requests("cdn", contains=hashlib.sha256(self.tnet).hexdigest()), [])

    def test_wrong_token_echoed_by_server_is_not_printed(self):
        self.fake.echo_bad_token = True
        bad = "hf_WRONGtoken" + hashlib.sha256(b"x").hexdigest()[:20]
        p = self.run_models("download", "--models", "transnetv2", "--verbose", token=bad, expect=1)
        self.assertIn("refused the token from $HF_TOKEN", p.stderr)
        self.assertNotIn(bad, p.stdout + p.stderr)
        self.assertIn("***", p.stderr)  # the server's echo, redacted

    def test_download_drop_resume_verify(self):
        sha = hashlib.sha256(self.tnet).hexdigest()
        self.fake.drop_after[sha] = 12_345_678
        before = len(self.fake.requests("cdn"))
        hub_before = len(self.fake.requests("hub"))
        p = self.run_models("download", "--models", "transnetv2", expect=0)
        dest = self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")
        self.assertEqual(self.sha(dest), sha)
        self.assertIn("connection lost", p.stderr)
        self.assertIn("resuming", p.stderr)
        cdn = self.fake.requests("cdn")[before:]
        self.assertEqual(len(cdn), 2, cdn)
        self.assertNotIn("Range", cdn[0][3])
        self.assertEqual(cdn[1][3].get("Range"), "bytes=12345678-")
        self.assertEqual(cdn[1][4], 206)
        # the token went to the hub, never to the CDN; the pinned revision was asked for
        for r in self.fake.requests("cdn"):
            self.assertNotIn("Authorization", r[3])
        hub = self.fake.requests("hub")[hub_before:]
        self.assertTrue(hub)
        for r in hub:
            self.assertEqual(r[3].get("Authorization"), "Bearer " + TOKEN)
            self.assertIn("/resolve/%s/" % REV["Sn4kehead/TransNetV2"], r[2])
        # no partial left; the record holds the sha256
        dl = os.path.join(self.dir, "Sn4kehead/TransNetV2/.cache/huggingface/download")
        self.assertEqual(sorted(os.listdir(dl)), ["transnetv2-pytorch-weights.pth.metadata"])
        with open(os.path.join(dl, "transnetv2-pytorch-weights.pth.metadata")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], fake_hub.COMMIT)
        self.assertEqual(lines[1], sha)
        p = self.run_models("verify", "--models", "transnetv2", expect=0)
        self.assertIn("sha256 matches", p.stdout)
        if HAVE_NNIO:
            self.assertIn("90 tensors with the expected names and shapes", p.stdout)
        p = self.run_models("list", "--models", "transnetv2", expect=0)
        self.assertIn("transnetv2        ready", p.stdout)
        # a second download transfers nothing
        before = len(self.fake.requests("cdn"))
        self.run_models("download", "--models", "transnetv2", expect=0)
        self.assertEqual(len(self.fake.requests("cdn")), before)
        # hub unreachable: the recorded copy is kept
        self.fake.fail_hub[("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")] = 100
        p = self.run_models("download", "--models", "transnetv2", "--retries", "1", expect=0)
        self.assertIn("keeping the copy downloaded earlier", p.stderr)

    def test_token_from_env_and_progress_bar(self):
        p = self.run_models("download", "--models", "aesthetic_scorer", "--progress", token="env", expect=0)
        self.assertIn("models: [", p.stderr)
        self.run_models("verify", "--models", "aesthetic", token=None, expect=0)

    def test_corrupted_file_detected_and_refetched(self):
        self.run_models("download", "--models", "transnetv2", expect=0)
        dest = self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")
        with open(dest, "r+b") as f:
            f.seek(1_000_000)
            b = f.read(1)
            f.seek(1_000_000)
            f.write(bytes([b[0] ^ 0x55]))
        p = self.run_models("verify", "--models", "transnetv2", expect=1)
        self.assertIn("BAD", p.stdout)
        self.assertIn("transnetv2-pytorch-weights.pth: sha256 is", p.stdout)
        fix = [l for l in p.stdout.splitlines() if "fix:" in l][0].split("fix:", 1)[1].split()
        self.assertEqual(fix[:5], ["vcurate", "models", "download", "--models", "transnetv2"])
        self.assertIn("--model-weights-path", fix)
        before = len(self.fake.requests("cdn"))
        p = self.run_models(*fix[2:], expect=0)
        self.assertIn("does not match the hub", p.stderr)
        self.assertEqual(len(self.fake.requests("cdn")), before + 1)
        self.assertEqual(self.sha(dest), hashlib.sha256(self.tnet).hexdigest())
        self.run_models("verify", "--models", "transnetv2", expect=0)

    def test_bitrot_needs_recheck(self):
        """Same size and mtime: only hashing finds it; verify says --recheck."""
        self.run_models("download", "--models", "transnetv2", expect=0)
        dest = self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")
        st = os.stat(dest)
        with open(dest, "r+b") as f:
            f.seek(5)
            f.write(b"\0\0\0\0")
        os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
        p = self.run_models("verify", "--models", "transnetv2", expect=1)
        self.assertIn("corrupted on disk", p.stdout)
        fix = [l for l in p.stdout.splitlines() if "fix:" in l][0].split("fix:", 1)[1].split()
        self.assertIn("--recheck", fix)
        before = len(self.fake.requests("cdn"))
        self.run_models(*fix[2:], expect=0)
        self.assertEqual(len(self.fake.requests("cdn")), before + 1)
        self.run_models("verify", "--models", "transnetv2", expect=0)

    def test_truncated_file(self):
        self.run_models("download", "--models", "transnetv2", expect=0)
        dest = self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")
        os.truncate(dest, 1000)
        p = self.run_models("verify", "--models", "transnetv2", expect=1)
        self.assertIn("were downloaded (truncated or replaced)", p.stdout)
        p = self.run_models("list", "--models", "transnetv2", expect=0)
        self.assertIn("incomplete", p.stdout)
        self.run_models("download", "--models", "transnetv2", expect=0)
        self.assertEqual(self.sha(dest), hashlib.sha256(self.tnet).hexdigest())

    def test_interrupted_run_resumes(self):
        """SIGINT mid-file keeps the partial; the next run asks for the rest."""
        self.fake.throttle = 4_000_000
        cmd = [DRIVER, "download", "--models", "transnetv2", "--model-weights-path", self.dir]
        proc = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dl = os.path.join(self.dir, "Sn4kehead/TransNetV2/.cache/huggingface/download")
        deadline = time.time() + 60
        partial = None
        while time.time() < deadline:
            parts = [f for f in os.listdir(dl) if f.endswith(".incomplete")] if os.path.isdir(dl) else []
            if parts and os.path.getsize(os.path.join(dl, parts[0])) > 2_000_000:
                partial = os.path.join(dl, parts[0])
                break
            time.sleep(0.05)
        self.assertIsNotNone(partial)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        OUTPUTS.append(out + err)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("run the same command to resume", err)
        self.assertTrue(os.path.exists(partial))
        size = os.path.getsize(partial)
        self.assertGreater(size, 2_000_000)
        self.assertLess(size, len(self.tnet))
        self.fake.throttle = 0
        before = len(self.fake.requests("cdn"))
        self.run_models("download", "--models", "transnetv2", expect=0)
        cdn = self.fake.requests("cdn")[before:]
        self.assertEqual(len(cdn), 1)
        self.assertEqual(cdn[0][3].get("Range"), "bytes=%d-" % size)
        dest = self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")
        self.assertEqual(self.sha(dest), hashlib.sha256(self.tnet).hexdigest())
        self.assertFalse(os.path.exists(partial))

    def test_server_ignoring_range_and_corrupt_body(self):
        sha = hashlib.sha256(self.tnet).hexdigest()
        self.fake.drop_after[sha] = 3_000_000
        self.fake.ignore_range.add(sha)
        p = self.run_models("download", "--models", "transnetv2", expect=0)
        self.assertIn("does not resume", p.stderr)
        dest = self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")
        self.assertEqual(self.sha(dest), sha)
        # corrupt bytes from the storage server: caught by the sha256 and fetched again
        shutil.rmtree(self.dir)
        self.fake.ignore_range.clear()
        self.fake.corrupt_once.add(sha)
        p = self.run_models("download", "--models", "transnetv2", expect=0)
        self.assertIn("sha256 mismatch", p.stderr)
        self.assertEqual(self.sha(dest), sha)

    def test_retries_on_503_and_404(self):
        self.fake.fail_hub[("google-t5/t5-11b", "config.json")] = 2
        self.fake.fail_hub[("google-t5/t5-11b", "spiece.model")] = 1
        p = self.run_models("download", "--models", "t5_xxl", expect=0)
        self.assertIn("HTTP 503", p.stderr)
        self.assertIn("retrying", p.stderr)
        # only the checkpoint the hub has was fetched (probes for the others were HEADs)
        gets = [r for r in self.fake.requests("hub", "GET") if "t5-11b" in r[2]]
        self.assertFalse([r for r in gets if "safetensors" in r[2] or "index.json" in r[2]], gets)
        # a repo the hub does not have
        saved = self.fake.repos.pop("ttj/sac-logos-ava1-l14-linearMSE")
        try:
            p = self.run_models("download", "--models", "aesthetic_scorer", expect=1)
        finally:
            self.fake.repos["ttj/sac-logos-ava1-l14-linearMSE"] = saved
        self.assertIn("no such repository", p.stderr)
        self.assertIn(self.fake.endpoint, p.stderr)
        # retries exhausted
        self.fake.fail_hub[("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")] = 100
        p = self.run_models("download", "--models", "transnetv2", "--retries", "2", expect=1)
        self.assertIn("gave up after 3 attempts", p.stderr)

    def tls_hub(self, cdn_https):
        if not self.have_cert:
            self.skipTest("no openssl to make a certificate")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        hub = fake_hub.FakeHub(TOKEN, hub_tls=ctx, cdn_tls=ctx if cdn_https else None)
        hub.add("Sn4kehead/TransNetV2", {"transnetv2-pytorch-weights.pth": self.tnet})
        self.addCleanup(hub.close)
        return hub

    def test_https_with_private_ca_and_resume(self):
        hub = self.tls_hub(cdn_https=True)
        p = self.run_models("download", "--models", "transnetv2", endpoint=hub.endpoint, expect=1)
        self.assertIn("certificate", p.stderr)
        self.assertIn("CURL_CA_BUNDLE", p.stderr)
        sha = hashlib.sha256(self.tnet).hexdigest()
        hub.drop_after[sha] = 7_000_000
        p = self.run_models("download", "--models", "transnetv2", endpoint=hub.endpoint,
                            extra_env={"CURL_CA_BUNDLE": self.cert}, expect=0)
        self.assertIn("resuming", p.stderr)
        cdn = hub.requests("cdn")
        self.assertEqual(len(cdn), 2)
        self.assertEqual(cdn[1][3].get("Range"), "bytes=7000000-")
        for r in cdn:
            self.assertNotIn("Authorization", r[3])
        self.assertEqual(self.sha(self.path("Sn4kehead/TransNetV2", "transnetv2-pytorch-weights.pth")), sha)

    def test_https_to_http_redirect_refused(self):
        hub = self.tls_hub(cdn_https=False)
        p = self.run_models("download", "--models", "transnetv2", endpoint=hub.endpoint,
                            extra_env={"CURL_CA_BUNDLE": self.cert}, expect=1)
        self.assertIn("refusing to follow a redirect from https to plain http", p.stderr)
        self.assertEqual(hub.requests("cdn"), [])

    def check_encoder_only(self, path):
        hlen, hdr, got = st_read(path)
        self.assertEqual((8 + hlen) % 8, 0)
        self.assertEqual(hdr["__metadata__"]["format"], "pt")
        want = {k: v for k, v in self.t5_sd.items() if k.startswith("encoder.") or k == "shared.weight"}
        self.assertEqual(set(got), set(want))
        self.assertTrue(any(k.startswith("decoder.") for k in self.t5_sd))
        for k, v in want.items():
            self.assertEqual(got[k].dtype, v.dtype, k)
            self.assertEqual(tuple(got[k].shape), tuple(v.shape), k)
            self.assertTrue(torch.equal(got[k], v.contiguous()), k)
        # offsets: contiguous, no holes, larger elements first
        spans = sorted((v["data_offsets"], k) for k, v in hdr.items() if k != "__metadata__")
        end = 0
        for (s, e), k in spans:
            self.assertEqual(s, end, k)
            end = e
        self.assertEqual(8 + hlen + end, os.path.getsize(path))

    @needs_nnio
    def test_t5_encoder_only(self):
        p = self.run_models("download", "--models", "t5_xxl", "--encoder-only", expect=0)
        repo = os.path.join(self.dir, "google-t5/t5-11b")
        self.assertFalse(os.path.exists(os.path.join(repo, "pytorch_model.bin")))
        self.assertIn("removed the full checkpoint", p.stderr)
        for f in ("config.json", "spiece.model", "encoder.safetensors"):
            self.assertTrue(os.path.exists(os.path.join(repo, f)), f)
        self.check_encoder_only(os.path.join(repo, "encoder.safetensors"))
        # NOTE: the issue asks that the encoder-only file gives the same
        # embeddings as the full checkpoint; the T5 encoder is not built yet
        # (issue 5), so this checks tensor identity, which implies it.
        p = self.run_models("verify", "--models", "t5_xxl", expect=0)
        self.assertIn("encoder.safetensors", p.stdout)
        self.assertIn("written by --encoder-only", p.stdout)
        self.assertIn("tensors:", p.stdout)
        p = self.run_models("list", "--models", "t5", expect=0)
        self.assertIn("ready (encoder-only)", p.stdout)
        # a later plain download keeps it encoder-only and fetches nothing big
        before = len(self.fake.requests("cdn"))
        self.run_models("download", "--models", "t5_xxl", expect=0)
        self.assertEqual(len(self.fake.requests("cdn")), before)
        # corrupt it: verify says so, download --encoder-only rebuilds it
        enc = os.path.join(repo, "encoder.safetensors")
        with open(enc, "r+b") as f:
            f.seek(-3, 2)
            f.write(b"xyz")
        p = self.run_models("verify", "--models", "t5_xxl", expect=1)
        self.assertIn("fix: vcurate models download --models t5_xxl --encoder-only", p.stdout)
        self.run_models("download", "--models", "t5_xxl", "--encoder-only", expect=0)
        self.check_encoder_only(enc)

    @needs_nnio
    def test_t5_keep_full(self):
        self.run_models("download", "--models", "t5_xxl", "--encoder-only", "--keep-full", expect=0)
        repo = os.path.join(self.dir, "google-t5/t5-11b")
        self.assertEqual(self.sha(os.path.join(repo, "pytorch_model.bin")), hashlib.sha256(self.t5_bin).hexdigest())
        self.check_encoder_only(os.path.join(repo, "encoder.safetensors"))

    @needs_nnio
    def test_t5_sharded_encoder_only(self):
        """A sharded safetensors checkpoint: only shards with encoder tensors are fetched."""
        sd = {k: v.contiguous() for k, v in self.t5_sd.items()}
        shards = {"model-00001-of-00003.safetensors": {}, "model-00002-of-00003.safetensors": {},
                  "model-00003-of-00003.safetensors": {}}
        wm = {}
        for k, v in sd.items():
            s = ("model-00002-of-00003.safetensors" if k.startswith("decoder.") or k == "lm_head.weight" else
                 "model-00003-of-00003.safetensors" if k.startswith("encoder.block.1.") else
                 "model-00001-of-00003.safetensors")
            shards[s][k] = v.clone()
            wm[k] = s
        files = {n: st_bytes(t, {"format": "pt"}) for n, t in shards.items()}
        files["model.safetensors.index.json"] = json.dumps({"metadata": {}, "weight_map": wm}).encode()
        files["config.json"] = json.dumps(T5_CONFIG).encode()
        files["spiece.model"] = b"spm"
        saved = self.fake.repos.pop("google-t5/t5-11b")
        self.fake.add("google-t5/t5-11b", files)
        try:
            p = self.run_models("download", "--models", "t5_xxl", "--encoder-only", expect=0)
        finally:
            self.fake.repos["google-t5/t5-11b"] = saved
        self.assertEqual(self.fake.requests(contains="model-00002-of-00003"), [], p.stderr)
        repo = os.path.join(self.dir, "google-t5/t5-11b")
        self.check_encoder_only(os.path.join(repo, "encoder.safetensors"))
        left = sorted(f for f in os.listdir(repo) if not f.startswith("."))
        self.assertEqual(left, ["config.json", "encoder.safetensors", "spiece.model"])

    def test_all_models_in_parallel(self):
        self.fake.throttle = 20_000_000
        p = self.run_models("download", "--models", "all", "--jobs", "4", expect=0)
        self.assertGreaterEqual(self.fake.cdn_max_inflight, 2)
        p = self.run_models("verify", expect=0)
        if HAVE_NNIO:
            self.assertEqual(p.stdout.count(" ok       tensors: "), 4, p.stdout)
        p = self.run_models("list", expect=0)
        self.assertNotIn("not downloaded", p.stdout)

    def test_zz_token_never_written_or_printed(self):
        """Runs last (alphabetical order): no output and no file under the
        test folders contains the token, except the token file itself."""
        self.run_models("download", "--models", "transnetv2", "--verbose", "--progress", expect=0)
        tok = TOKEN.encode()
        for out in OUTPUTS:
            self.assertNotIn(TOKEN, out)
        token_file = os.path.join(self.hf_home_token, "token")
        n = 0
        for dirpath, _, files in os.walk(ROOT):
            for f in files:
                p = os.path.join(dirpath, f)
                if p == token_file:
                    continue
                with open(p, "rb") as fh:
                    self.assertNotIn(tok, fh.read(), p)
                n += 1
        self.assertGreater(n, 10)


if __name__ == "__main__":
    DRIVER = os.path.abspath(sys.argv.pop(1))
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
