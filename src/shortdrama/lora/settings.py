"""The knobs of one LoRA training run. A plain frozen dataclass: validated config is converted into it at the edge."""

from __future__ import annotations

from dataclasses import dataclass

from shortdrama.errors import ConfigError

MIXED_PRECISION = ("no", "fp16", "bf16")


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16
    alpha: int = 16
    target_modules: tuple[str, ...] = ("to_k", "to_q", "to_v", "to_out.0")
    learning_rate: float = 1e-4
    steps: int = 1000
    batch_size: int = 1
    gradient_accumulation: int = 1
    resolution: int = 512
    seed: int = 0
    mixed_precision: str = "no"  # "no"|"fp16"|"bf16", used only where the device supports it
    checkpoint_every: int = 100
    trigger: str = "sks"

    def __post_init__(self) -> None:
        positive = ("rank", "alpha", "batch_size", "gradient_accumulation", "resolution", "checkpoint_every")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"lora.{name}: {value!r} is not a positive integer")
        if not isinstance(self.steps, int) or self.steps < 0:
            raise ConfigError(f"lora.steps: {self.steps!r} is not a non-negative integer")
        if not self.learning_rate > 0:
            raise ConfigError(f"lora.learning_rate: {self.learning_rate!r} must be > 0")
        if self.mixed_precision not in MIXED_PRECISION:
            choices = ", ".join(MIXED_PRECISION)
            raise ConfigError(f"lora.mixed_precision: {self.mixed_precision!r} is not one of {choices}")
        if not self.target_modules:
            raise ConfigError("lora.target_modules: empty; name at least one module (e.g. to_q)")
        if not self.trigger.strip():
            raise ConfigError("lora.trigger: empty; captions need a trigger token")
