"""A PyTorch reference of the T5 encoder, written from the T5 paper and the
Hugging Face checkpoint layout (transformers is not needed): the stack
T5EncoderModel runs in eval mode, on a right-padded batch with an attention
mask, in float32.

Also: random T5 checkpoints saved as Hugging Face folders (config.json,
pytorch_model.bin holding encoder AND decoder, model.safetensors), for the
parity tests of vcurate's C encoder (tests/nn/t5/) and its benchmark."""
import collections
import json
import math
import os
import struct

import numpy as np
import torch
from torch import nn


def default_config(**over):
    """A T5Config-like dict (t5-11b's sizes unless overridden)."""
    cfg = {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "d_model": 1024, "d_kv": 128, "num_heads": 128, "d_ff": 65536, "num_layers": 24,
        "num_decoder_layers": 24, "vocab_size": 32128,
        "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
        "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu", "dropout_rate": 0.1,
        "initializer_factor": 1.0, "is_encoder_decoder": True, "pad_token_id": 0,
        "eos_token_id": 1, "decoder_start_token_id": 0,
    }
    cfg.update(over)
    return cfg


def rms_norm(x, w, eps):
    var = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def relative_bucket(rel, num_buckets, max_distance):
    """Bidirectional buckets: exact below num_buckets/4, then logarithmic up
    to max_distance, the sign in the top half."""
    num_buckets //= 2
    out = (rel > 0).to(torch.long) * num_buckets
    rel = torch.abs(rel)
    max_exact = num_buckets // 2
    small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(small, rel, large)


def activation(name):
    if name == "relu":
        return torch.relu
    if name == "gelu":
        return lambda x: torch.nn.functional.gelu(x)
    if name == "gelu_new":
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    raise ValueError(name)


class T5EncoderRef(nn.Module):
    """Functional T5 encoder over a state dict (names as in the HF checkpoint)."""

    def __init__(self, cfg, sd):
        super().__init__()
        self.cfg = cfg
        self.sd = {k: v.float() for k, v in sd.items() if k.startswith("encoder.") or k == "shared.weight"}
        ff = cfg.get("feed_forward_proj", "relu")
        self.gated = ff.startswith("gated-")
        self.act = activation("gelu_new" if ff == "gated-gelu" else ff.split("-")[-1])

    @torch.no_grad()
    def forward(self, ids, mask):
        cfg, sd = self.cfg, self.sd
        b, n = ids.shape
        h, dk = cfg["num_heads"], cfg["d_kv"]
        eps = cfg.get("layer_norm_epsilon", 1e-6)
        x = sd["shared.weight"][ids]
        pos = torch.arange(n)
        rel = pos[None, :] - pos[:, None]             # key - query
        bucket = relative_bucket(rel, cfg.get("relative_attention_num_buckets", 32),
                                 cfg.get("relative_attention_max_distance", 128))
        table = sd["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        bias = table[bucket].permute(2, 0, 1)[None]   # [1, h, n, n]
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        bias = bias + ext
        for layer in range(cfg["num_layers"]):
            p = f"encoder.block.{layer}.layer."
            y = rms_norm(x, sd[p + "0.layer_norm.weight"], eps)

            def heads(t):
                return t.view(b, n, h, dk).transpose(1, 2)
            q = heads(y @ sd[p + "0.SelfAttention.q.weight"].T)
            k = heads(y @ sd[p + "0.SelfAttention.k.weight"].T)
            v = heads(y @ sd[p + "0.SelfAttention.v.weight"].T)
            scores = q @ k.transpose(3, 2) + bias      # no 1/sqrt(dk) in T5
            w = torch.softmax(scores.float(), dim=-1).type_as(scores)
            a = (w @ v).transpose(1, 2).reshape(b, n, h * dk)
            x = x + a @ sd[p + "0.SelfAttention.o.weight"].T
            y = rms_norm(x, sd[p + "1.layer_norm.weight"], eps)
            if self.gated:
                f = self.act(y @ sd[p + "1.DenseReluDense.wi_0.weight"].T) * (y @ sd[p + "1.DenseReluDense.wi_1.weight"].T)
            else:
                f = self.act(y @ sd[p + "1.DenseReluDense.wi.weight"].T)
            x = x + f @ sd[p + "1.DenseReluDense.wo.weight"].T
        return rms_norm(x, sd["encoder.final_layer_norm.weight"], eps)


def _stack_tensors(prefix, cfg, layers, decoder, gen):
    """State-dict entries of one T5 stack, initialised as T5PreTrainedModel does."""
    d, dk, h, dff = cfg["d_model"], cfg["d_kv"], cfg["num_heads"], cfg["d_ff"]
    nb = cfg.get("relative_attention_num_buckets", 32)
    inner = h * dk
    gated = cfg.get("feed_forward_proj", "relu").startswith("gated-")
    out = collections.OrderedDict()

    def normal(shape, std):
        return torch.randn(*shape, generator=gen) * std

    def ln():
        return 1.0 + 0.1 * torch.randn(d, generator=gen)

    def attn(p, bias):
        out[p + "q.weight"] = normal((inner, d), (d * dk) ** -0.5)
        out[p + "k.weight"] = normal((inner, d), d ** -0.5)
        out[p + "v.weight"] = normal((inner, d), d ** -0.5)
        out[p + "o.weight"] = normal((d, inner), inner ** -0.5)
        if bias:
            out[p + "relative_attention_bias.weight"] = normal((nb, h), d ** -0.5)
    for layer in range(layers):
        p = f"{prefix}.block.{layer}.layer."
        attn(p + "0.SelfAttention.", layer == 0)
        out[p + "0.layer_norm.weight"] = ln()
        f = 1
        if decoder:
            attn(p + "1.EncDecAttention.", False)
            out[p + "1.layer_norm.weight"] = ln()
            f = 2
        if gated:
            out[p + f"{f}.DenseReluDense.wi_0.weight"] = normal((dff, d), d ** -0.5)
            out[p + f"{f}.DenseReluDense.wi_1.weight"] = normal((dff, d), d ** -0.5)
        else:
            out[p + f"{f}.DenseReluDense.wi.weight"] = normal((dff, d), d ** -0.5)
        out[p + f"{f}.DenseReluDense.wo.weight"] = normal((d, dff), dff ** -0.5)
        out[p + f"{f}.layer_norm.weight"] = ln()
    out[f"{prefix}.final_layer_norm.weight"] = ln()
    return out


def random_state_dict(cfg, seed=0, decoder=True):
    """T5ForConditionalGeneration's state dict with seeded random weights (the
    decoder and lm_head too, unless decoder=False)."""
    gen = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    sd["shared.weight"] = torch.randn(cfg["vocab_size"], cfg["d_model"], generator=gen)
    sd.update(_stack_tensors("encoder", cfg, cfg["num_layers"], False, gen))
    if decoder:
        sd.update(_stack_tensors("decoder", cfg, cfg.get("num_decoder_layers", cfg["num_layers"]), True, gen))
        sd["lm_head.weight"] = torch.randn(cfg["vocab_size"], cfg["d_model"], generator=gen) * cfg["d_model"] ** -0.5
    return sd


_ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save_safetensors(path, sd, metadata=None):
    """The safetensors layout (u64 header size, JSON header, raw data), written
    by hand: the safetensors package is not in Debian."""
    header = {"__metadata__": metadata or {"format": "pt"}}
    blobs, off = [], 0
    for name, t in sd.items():
        t = t.contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": _ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for raw in blobs:
            f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def save_hf_folder(folder, cfg, sd, bin_name="pytorch_model.bin", st_name="model.safetensors"):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if bin_name:
        path = os.path.join(folder, bin_name)
        torch.save(sd, path)
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
    if st_name:
        save_safetensors(os.path.join(folder, st_name), sd)


# Caption-like words for tokenizer training and test captions (with accents,
# CJK and an emoji, so normalisation and byte fallback are exercised).
WORDS = ("the a video shows car road night rain street camera pans left right pedestrians bus stop city "
         "building tree sky sun cloud people walking running dog cat bird water river bridge light "
         "café naïve 東京 夜景 🎥").split()


def make_tiny_hf_model(folder, rng, seed):
    """A tiny T5 in a Hugging Face folder: a sentencepiece model trained on
    WORDS, config.json and pytorch_model.bin (with a decoder, as published
    checkpoints have). Returns (cfg, state_dict)."""
    import sentencepiece as spm
    os.makedirs(folder)
    text = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))) for _ in range(2000)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_prefix=os.path.join(folder, "spiece"),
                                   vocab_size=120, hard_vocab_limit=False, model_type="unigram", pad_id=0,
                                   eos_id=1, unk_id=2, bos_id=-1, minloglevel=2)
    os.remove(os.path.join(folder, "spiece.vocab"))
    cfg = default_config(d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2, num_decoder_layers=2,
                         vocab_size=128)
    sd = random_state_dict(cfg, seed=seed)
    save_hf_folder(folder, cfg, sd, st_name=None)
    return cfg, sd


def encode_padded(model, seqs, pad_to=None):
    """Right-pads the id lists, runs the encoder, returns per-sequence
    float32 arrays [L, d_model] (the real rows)."""
    n = pad_to or max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), n, dtype=torch.long)
    mask = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    out = model(ids, mask)
    return [out[i, :len(s)].numpy().astype(np.float32) for i, s in enumerate(seqs)]
