"""Tokenizers for tiny randomly-initialised models built in code (tests, offline demos, benchmarks).

Nothing is downloaded: a byte-level CLIP BPE and a T5-style unigram sentencepiece tokenizer are generated here,
small enough for tiny text encoders and real enough that the pipelines' own tokenizer classes load them.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

# A few merges so common caption words are not all single characters; the vocabulary stays far below vocab_size.
_MERGES = ("s k", "sk s</w>", "p h", "o t", "o f</w>", "i n", "a n", "o n</w>", "e r", "o u", "t h", "e r</w>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable unicode map (the alphabet of a byte-level BPE)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_tiny_clip_vocab(folder: Path) -> Path:
    """vocab.json + merges.txt of a tiny byte-level CLIP BPE: 2 specials, 256 bytes, 256 word-final bytes, merges."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for ch in alphabet:
        vocab[ch + "</w>"] = len(vocab)
    for merge in _MERGES:
        left, right = merge.split(" ")
        vocab.setdefault(left + right, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(_MERGES) + "\n", encoding="utf-8")
    return folder


def tiny_clip_tokenizer(model_max_length: int = 77):
    """A CLIPTokenizer over the tiny vocabulary above (ids < 1000, so a vocab_size=1000 text model fits)."""
    import tempfile

    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        return CLIPTokenizer.from_pretrained(write_tiny_clip_vocab(Path(tmp)), model_max_length=model_max_length)


def tiny_t5_tokenizer(model_max_length: int = 77):
    """A T5TokenizerFast over a ~190-piece unigram vocabulary (pad=0, eos=1, unk=2, as T5 numbers them).

    Loads back with AutoTokenizer/T5TokenizerFast from save_pretrained's tokenizer.json, like a real T5/UMT5 one.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    symbols = string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(ch, -3.0) for ch in symbols] + [("▁" + ch, -2.5) for ch in symbols]
    backend = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                           special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=backend, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                           extra_ids=0, model_max_length=model_max_length)
