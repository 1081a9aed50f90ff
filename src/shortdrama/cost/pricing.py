"""Price estimates from the provider YAML price tables, with the rounding providers bill by."""

from __future__ import annotations

import math
from typing import Sequence

from ..config import Pricing

# A rough rule for English and JSON prompts; only used for token-priced LLMs.
CHARS_PER_TOKEN = 4.0


def billed_seconds(duration: float, sellable: Sequence[float]) -> float:
    """A 7 s clip from an API that sells 5 s and 10 s clips is billed as 10 s; a 23 s one as 3 x 10 s."""
    if not sellable:
        return duration
    lengths = sorted(sellable)
    fitting = [length for length in lengths if length >= duration - 1e-9]
    if fitting:
        return fitting[0]
    return math.ceil(duration / lengths[-1] - 1e-9) * lengths[-1]


def resolution_name(width: int, height: int) -> str:
    """`720p` for 720x1280: vertical presets are named by their short side."""
    return f"{min(width, height)}p"


def video_cost(pricing: Pricing, duration: float, width: int, height: int) -> float:
    multiplier = pricing.resolution_multiplier.get(resolution_name(width, height), 1.0)
    return pricing.per_call + pricing.per_second * billed_seconds(duration, pricing.billing_seconds) * multiplier


def llm_cost(pricing: Pricing, input_chars: int, output_chars: int) -> float:
    tokens_in, tokens_out = input_chars / CHARS_PER_TOKEN, output_chars / CHARS_PER_TOKEN
    return pricing.per_call + (tokens_in * pricing.input_per_mtok + tokens_out * pricing.output_per_mtok) / 1e6


def image_cost(pricing: Pricing, images: int = 1) -> float:
    return pricing.per_call + pricing.per_image * images


def speech_cost(pricing: Pricing, characters: int) -> float:
    return pricing.per_call + pricing.per_1k_chars * characters / 1000


def audio_cost(pricing: Pricing, duration: float) -> float:
    return pricing.per_call + pricing.per_second * duration


def training_cost(pricing: Pricing, gpu_hours: float) -> float:
    """A LoRA training run: a flat price per run and/or metered GPU time."""
    return pricing.per_call + pricing.per_training_run + pricing.per_gpu_hour * gpu_hours


def token_cost(pricing: Pricing, tokens_in: int, tokens_out: int, calls: int = 1) -> float:
    """What an LLM bills for the tokens its responses reported."""
    return pricing.per_call * calls + (tokens_in * pricing.input_per_mtok + tokens_out * pricing.output_per_mtok) / 1e6
