"""Test helpers shipped beside the package, never used by it: tiny randomly-initialised diffusion and Wan
pipelines built in code and the tokenizers they load, the way diffusers keeps its dummy components with its
tests. The tests and the benchmarks in bench/ import them; nothing else in shortdrama may.

    tiny_tokenizers  a byte-level CLIP BPE and a T5-style unigram tokenizer, written on the fly
    tiny_sd          tiny SD 1.x, SDXL and SD3 pipelines (the LoRA code path)
    tiny_wan         tiny Wan 2.1 / 2.2 image-to-video pipelines (the local video code path)
"""
