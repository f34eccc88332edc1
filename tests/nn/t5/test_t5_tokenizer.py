#!/usr/bin/python3
"""T5 tokenizer parity: vcurate's C tokenizer (libsentencepiece through a C
shim, Python-style strip, </s>, truncation at 512) against Python's
sentencepiece on a small unigram model trained here as T5's spiece.model is
laid out (pad 0, eos 1, unk 2, no bos).

  test_t5_tokenizer.py T5_RUN

Expected ids: sp.encode(caption.strip())[:511] + [id of "</s>"], which is what
transformers' T5Tokenizer(Fast) gives with truncation=True, max_length=512 for
text without special-token strings. Skips (77) without python3-sentencepiece."""
import json
import os
import random
import subprocess
import sys
import tempfile

SKIP = 77
T5_RUN = os.path.abspath(sys.argv[1])
try:
    import sentencepiece as spm
except ImportError as e:
    print(f"SKIP: {e} (apt-get install python3-sentencepiece)")
    sys.exit(SKIP)

WORDS = ("a red car drives along a wet road at night while rain falls on the street lights "
         "the camera pans slowly to the left showing pedestrians crossing near a bus stop "
         "café naïve façade über straße jalapeño smörgåsbord coöperate résumé "
         "日本語 の 文章 東京 の 夜景 猫 が 走る 中文 字幕 视频 "
         "Привет мир видео камера  مرحبا بالعالم  שלום עולם "
         "🎥 📷 🚗 ✨ ① ② Ａｂｃ ﬁne ½ ㎏ x² e\u0301 Å").split()
WS = [" ", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0", "\u2009", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
      "\u200b", "\ufeff"]


def corpus(n, rng):
    letters = "abcdefghijklmnopqrstuvwxyzéèàüöß"
    for _ in range(n):
        yield " ".join(rng.choice(WORDS) if rng.random() < 0.6 else
                       "".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))
                       for _ in range(rng.randint(3, 30)))


def captions(rng, sp):
    out = ["", " ", "\u3000\t\n", "a", "The video shows a cat.", "  leading and trailing  ",
           "\u3000全角スペース\u3000", "\xa0nbsp\xa0", "\x85next line\x85", "\u2028sep\u2029",
           "\x1cfile sep\x1f", "\u200bzero width\u200b", "\ufeffbom", "multiple    inner   spaces",
           "tabs\tand\nnewlines\r\nmixed", "Ａｂｃ ﬁne ½ ㎏ x²", "e\u0301 vs \xe9", "🎥🚗✨ emoji only",
           "unknown chars: ☃ ♞ ⌘ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ꙮ", "مرحبا بالعالم", "<b>markup</b> & \"quotes\" 'single'",
           "trailing newline\n", "\n\nThe video begins with a wide shot.\n\nThen it cuts.\n  "]
    for _ in range(150):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 60))]
        text = ""
        for w in words:
            text += w + (rng.choice(WS) if rng.random() < 0.3 else " ")
        if rng.random() < 0.3:
            text = rng.choice(WS) + text
        out.append(text)
    # long captions: well over 512 pieces, and exactly around the limit
    out.append(" ".join(rng.choice(WORDS) for _ in range(2000)))
    out.append("word " * 5000)
    base = [rng.choice(WORDS) for _ in range(1200)]
    for target in (510, 511, 512, 513):
        lo, hi = 0, len(base)
        while lo < hi:     # fewest words with >= target pieces
            mid = (lo + hi) // 2
            if len(sp.encode(" ".join(base[:mid]))) >= target:
                hi = mid
            else:
                lo = mid + 1
        out.append(" ".join(base[:lo]))
    return out


def main():
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "spiece")
        spm.SentencePieceTrainer.train(
            sentence_iterator=corpus(3000, random.Random(1)), model_prefix=prefix, vocab_size=300, hard_vocab_limit=False,
            model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.9995,
            minloglevel=2)
        model = prefix + ".model"
        sp = spm.SentencePieceProcessor(model_file=model)
        eos = sp.piece_to_id("</s>")
        caps = captions(rng, sp)
        inp = os.path.join(tmp, "in.json")
        with open(inp, "w") as f:
            json.dump(caps, f)

        out = os.path.join(tmp, "strip.json")
        subprocess.run([T5_RUN, "strip", inp, out], check=True)
        got = json.load(open(out))
        bad = [(c, g) for c, g in zip(caps, got) if g != c.strip()]
        for c, g in bad[:5]:
            print(f"strip mismatch: {c!r}: got {g!r}, want {c.strip()!r}")

        fails = len(bad)
        for max_len in (512, 16, 1):
            out = os.path.join(tmp, f"tok{max_len}.json")
            subprocess.run([T5_RUN, "tok", model, inp, out, str(max_len)], check=True)
            got = json.load(open(out))
            for c, g in zip(caps, got):
                want = sp.encode(c.strip())[:max_len - 1] + [eos]
                if g != want:
                    fails += 1
                    if fails < 6:
                        print(f"max_len {max_len}: {c[:60]!r}: got {g[:20]}.. ({len(g)}), want {want[:20]}.. ({len(want)})")
        lens = [len(sp.encode(c.strip())) + 1 for c in caps]
        print(f"{len(caps)} captions x 3 lengths; pieces+eos from {min(lens)} to {max(lens)}, "
              f"{sum(n > 512 for n in lens)} truncated at 512; unk pieces in "
              f"{sum(2 in sp.encode(c) for c in caps)} captions")
        print("FAIL: %d mismatches" % fails if fails else "OK: C ids identical to Python's sentencepiece")
        sys.exit(1 if fails else 0)


main()
