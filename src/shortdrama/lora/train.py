"""The LoRA training loop (diffusers' train_text_to_image_lora recipe), with atomic checkpoints and resume.

The loop is the same for every model family (sd15, sdxl, sd3); the family supplies the parts, the loss of one
micro-batch and the adapter's save format. Images and captions are encoded once per run (family.Encodings).

One step = one optimizer update over `gradient_accumulation` micro-batches of `batch_size` images. Data order, noise
and timesteps are drawn from torch.Generators seeded by (seed, epoch) and (seed, step), so a resumed run draws exactly
what an uninterrupted run would have drawn.

A checkpoint is resumed only by the training request that made it: every checkpoint records the request's identity
(`training_request`: the base model, the settings, the sha256 of every image, every caption, and the caller's own
request key), and a checkpoint of any other request, or of none, is deleted unread, with one log line saying why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from shortdrama.errors import ConfigError, ProviderError
from shortdrama.lora.dataset import CaptionedImages
from shortdrama.lora.families import get_family
from shortdrama.lora.family import Encodings, Family
from shortdrama.lora.model import add_lora
from shortdrama.lora.settings import LoraSettings

ADAPTER_FILE = "pytorch_lora_weights.safetensors"
CHECKPOINTS = "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")
# Settings that change the adapter's shape: a checkpoint made with other values cannot be resumed.
_SHAPE_KEYS = ("rank", "alpha", "target_modules")
# The only settings left out of a checkpoint's request: they say how far to train and how often to save, not what
# any step does. The learning rate is constant and data order, noise and timesteps are seeded per epoch and per step,
# so step N of a 1000-step run is step N of a 4000-step run: raising `steps` resumes from the last checkpoint, and
# lowering it resumes from the latest checkpoint at or before the new `steps`. A learning-rate schedule that depends
# on `steps` (warm-up, cosine decay) would make `steps` part of the request: take it out of this tuple then.
RESUME_FREE = ("steps", "checkpoint_every")
REQUEST_FORMAT = 1  # bump when training_request changes what it covers: older checkpoints are then not resumed
TERMINAL_EVERY_S = 10.0  # a step line on the terminal at most this often (snakemake_glue prints this logger in a job)
_terminal = logging.getLogger("shortdrama.progress.lora")


@dataclass
class TrainResult:
    steps_done: int
    final_loss: float | None
    losses: list[float] = field(default_factory=list)  # one per step run by this call
    adapter: Path | None = None
    seconds: float = 0.0
    resumed_from: int = 0


def pick_device(device: str | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def weight_dtype_for(mixed_precision: str, device: torch.device, log: Callable[[str], None]) -> torch.dtype:
    """The dtype of the frozen weights: fp16/bf16 only where the device supports it, else fp32."""
    if mixed_precision == "no":
        return torch.float32
    if device.type == "cuda":
        if mixed_precision == "fp16":
            return torch.float16
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
    log(f"mixed_precision={mixed_precision} is not supported on {device.type}; training in fp32")
    return torch.float32


def _checkpoints(out_dir: Path) -> list[tuple[int, Path]]:
    root = Path(out_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_DIR.match(p.name)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _model_fingerprint(model_dir: Path) -> dict:
    """The base model: its folder and every file in it by name, size and modification time (the weights are not
    hashed: gigabytes per run). Another model, or the same folder with other weights, has another fingerprint."""
    root = Path(model_dir).resolve()
    files: dict[str, list[int]] = {}
    if root.is_dir():
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # .cache/huggingface download metadata
            for name in names:
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                try:
                    info = path.stat()
                except OSError:
                    continue
                files[path.relative_to(root).as_posix()] = [info.st_size, info.st_mtime_ns]
    return {"path": str(root), "files": dict(sorted(files.items()))}


def training_request(model_dir: Path, images: list[Path], captions: list[str], settings: LoraSettings, family: str,
                     request_key: str | None = None) -> dict:
    """Everything that decides what training writes, as JSON: the base model, the settings (all but RESUME_FREE), the
    sha256 of every image in order, every caption, and the caller's request key (e.g. the build's key of this training
    call, which also covers the caption sidecars and the step's code version)."""
    return json.loads(json.dumps({  # as JSON reads it back (tuples are lists), so recorded and new compare equal
        "format": REQUEST_FORMAT,
        "request_key": request_key,
        "family": family,
        "base_model": _model_fingerprint(model_dir),
        "settings": {k: v for k, v in asdict(settings).items() if k not in RESUME_FREE},
        "images": [_sha256(Path(p)) for p in images],
        "captions": list(captions),
    }))


def request_id(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def _differences(theirs: dict, mine: dict) -> str:
    """What differs between two training requests, in a few words ("settings.seed 0 -> 1, images")."""
    out = []
    for key in sorted(set(theirs) | set(mine)):
        a, b = theirs.get(key), mine.get(key)
        if a == b:
            continue
        if key == "settings" and isinstance(a, dict) and isinstance(b, dict):
            out += [f"settings.{k} {a.get(k)!r} -> {b.get(k)!r}"
                    for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif key in ("family", "format"):
            out.append(f"{key} {a!r} -> {b!r}")
        elif isinstance(a, list) and isinstance(b, list):
            changed = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
            out.append(f"{key} ({changed} of {max(len(a), len(b))} differ)")
        else:
            out.append(key)
    return ", ".join(out) or "its request id"


def _recorded_request(path: Path) -> tuple[str | None, dict | None, str]:
    """(request id, request, why not usable) of one checkpoint."""
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as exc:
        return None, None, f"its state.json is unreadable ({type(exc).__name__})"
    if not isinstance(state, dict) or not state.get("request_id"):
        return None, None, "it records no training request (made before checkpoints were keyed by their request)"
    return state["request_id"], state.get("request"), ""


def _resumable(out_dir: Path, request: dict, rid: str, steps: int, log: Callable[[str], None]) -> Path | None:
    """The latest checkpoint of this request at or before `steps`. Checkpoints of any other request, or of none, are
    deleted unread (one log line says why), so nothing of another training can reach this one."""
    root = Path(out_dir) / CHECKPOINTS
    for leftover in root.glob(".step-*"):  # a save killed before its rename: never read, only in the way
        shutil.rmtree(leftover, ignore_errors=True)
    found = _checkpoints(out_dir)
    foreign: list[tuple[Path, str]] = []
    for _, path in found:
        theirs_id, theirs, why = _recorded_request(path)
        if theirs_id != rid:
            foreign.append((path, why or f"another training request ({_differences(theirs or {}, request)})"))
    if foreign:
        names = ", ".join(p.name for p, _ in foreign)
        log(f"not resuming from {root}: {foreign[-1][0].name} belongs to {foreign[-1][1]}; "
            f"deleting {names} and training this request from step 0")
        for path, _ in foreign:
            shutil.rmtree(path)
    ours = [(step, path) for step, path in found if step <= steps and path not in {p for p, _ in foreign}]
    return ours[-1][1] if ours else None


def _sample_indices(n_images: int, start: int, count: int, seed: int) -> list[int]:
    """Items start..start+count of an endless stream of per-epoch shuffles of range(n_images)."""
    out: list[int] = []
    perms: dict[int, list[int]] = {}
    for k in range(start, start + count):
        epoch, pos = divmod(k, n_images)
        if epoch not in perms:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            perms[epoch] = torch.randperm(n_images, generator=g).tolist()
        out.append(perms[epoch][pos])
    return out


def _save_checkpoint(
    out_dir: Path, step: int, denoiser, optimizer, scaler, settings: LoraSettings, last_loss: float, family: Family,
    request: dict | None = None,
) -> Path:
    """out_dir/checkpoints/step-N/: LoRA state (peft format), optimizer (and grad scaler) state, step, and the training
    request it belongs to (its id and the request itself, to say what changed when another request finds it). Atomic."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    root = Path(out_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    tmp = Path(tempfile.mkdtemp(prefix=f".step-{step}.", dir=root))
    try:
        lora = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(denoiser).items()}
        save_file(lora, tmp / "adapter_model.safetensors")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        state = {"step": step, "last_loss": last_loss, "settings": asdict(settings), "family": family.name}
        if request is not None:
            state.update(request_id=request_id(request), request=request)
        (tmp / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _load_checkpoint(
    path: Path, denoiser, optimizer, scaler, settings: LoraSettings, device: torch.device, family: Family
) -> dict:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = json.loads((path / "state.json").read_text())
    theirs = state.get("family", "sd15")  # checkpoints from before there were families are SD 1.x
    if theirs != family.name:
        raise ConfigError(
            f"cannot resume from {path}: it is a {theirs} checkpoint, now training family={family.name}; "
            f"delete {path.parent} or train into another output directory"
        )
    saved = state.get("settings", {})
    for key in _SHAPE_KEYS:
        mine = getattr(settings, key)
        theirs = tuple(saved[key]) if key == "target_modules" else saved.get(key)
        if theirs != mine:
            raise ConfigError(
                f"cannot resume from {path}: it was trained with {key}={theirs!r}, now {key}={mine!r}; "
                f"delete {path.parent} or train into another output directory"
            )
    lora = load_file(path / "adapter_model.safetensors", device=str(device))
    try:
        result = set_peft_model_state_dict(denoiser, lora, adapter_name="default")
    except RuntimeError as exc:  # torch: size mismatch, i.e. trained on another base model
        raise ProviderError(
            f"checkpoint {path} does not fit this {family.title} model (was it trained on another base model?): "
            f"{str(exc).splitlines()[0]} ...; delete {path.parent} or train into another output directory"
        ) from exc
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ProviderError(f"checkpoint {path} does not fit this model: unexpected LoRA keys {unexpected[:3]}...")
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=True))
    if scaler is not None and (path / "scaler.pt").exists():
        scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
    return state


def save_adapter(out_dir: Path, denoiser, family: str = "sd15") -> Path:
    """The final adapter in the standard diffusers format (out_dir/pytorch_lora_weights.safetensors), atomically.

    Keys are prefixed `unet.` (sd15, sdxl) or `transformer.` (sd3), as the family pipeline's load_lora_weights reads.
    """
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import get_peft_model_state_dict

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype=torch.float32) for k, v in get_peft_model_state_dict(denoiser).items()}
    layers = convert_state_dict_to_diffusers(state)
    with tempfile.TemporaryDirectory(prefix=".adapter.", dir=out_dir) as tmp:
        get_family(family).save_lora_layers(Path(tmp), layers)
        os.replace(Path(tmp) / ADAPTER_FILE, out_dir / ADAPTER_FILE)
    return out_dir / ADAPTER_FILE


def train_lora(
    model_dir: Path,
    images: list[Path],
    captions: list[str],
    out_dir: Path,
    settings: LoraSettings,
    log: Callable[[str], None] = print,
    *,
    device: str | None = None,
    family: str = "sd15",
    request_key: str | None = None,
    cache_encodings: bool = True,  # False only to measure what the cache saves (bench/lora_inputs.py)
) -> TrainResult:
    """Train (or resume training) a character LoRA on `images`/`captions` for a `family` base model ("sd15",
    "sdxl" or "sd3"); write the adapter into `out_dir`.

    Resumes only from a checkpoint in `out_dir` of the same training request (`training_request`, which includes
    `request_key`, the caller's key of everything else the result depends on); any other checkpoint is deleted."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    kind = get_family(family)
    dataset = CaptionedImages(images, captions, settings.resolution, trigger=settings.trigger)
    parts = kind.load(model_dir)
    dev = pick_device(device)
    weight_dtype = weight_dtype_for(settings.mixed_precision, dev, log)

    kind.place(parts, dev, weight_dtype)  # frozen base weights in the training dtype
    denoiser = parts.denoiser
    # The gaussian LoRA init draws from torch's global RNG: seed it from settings.seed without leaking the seed.
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(settings.seed)
        params = add_lora(denoiser, settings, frozen=parts.frozen_modules())
    denoiser.train()
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    scaler = torch.amp.GradScaler(dev.type) if weight_dtype == torch.float16 else None

    request = training_request(model_dir, images, captions, settings, kind.name, request_key)
    rid = request_id(request)
    start_step, last_loss = 0, None
    checkpoint = _resumable(out_dir, request, rid, settings.steps, log)
    if checkpoint is not None:
        state = _load_checkpoint(checkpoint, denoiser, optimizer, scaler, settings, dev, kind)
        start_step, last_loss = int(state["step"]), state.get("last_loss")
        log(f"resuming from {checkpoint} (step {start_step})")

    total = settings.steps
    n_params = sum(p.numel() for p in params)
    log(
        f"training {kind.title} LoRA rank {settings.rank} ({n_params:,} params) on {len(dataset)} images at "
        f"{settings.resolution}px, steps {start_step}->{total}, device {dev.type}, dtype {str(weight_dtype)[6:]}"
    )
    _terminal.info("training %s LoRA, %d images, steps %d->%d, %s", kind.title, len(dataset), start_step, total, dev)
    per_step, encodings = settings.batch_size * settings.gradient_accumulation, Encodings(enabled=cache_encodings)
    log_every = max(1, total // 50)
    losses: list[float] = []
    loop_started = shown_at = time.monotonic()  # shown_at: when the terminal last got a step line
    for step in range(start_step + 1, total + 1):
        gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
        indices = _sample_indices(len(dataset), (step - 1) * per_step, per_step, settings.seed)
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for micro in range(settings.gradient_accumulation):
            chunk = indices[micro * settings.batch_size : (micro + 1) * settings.batch_size]
            loss = kind.micro_batch_loss(parts, [dataset[i] for i in chunk], dev, weight_dtype, gen, encodings)
            if not torch.isfinite(loss):
                raise ProviderError(f"LoRA training diverged at step {step}: loss is {loss.item()}")
            scaled = loss / settings.gradient_accumulation
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
            step_loss += loss.item() / settings.gradient_accumulation
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        losses.append(step_loss)
        last_loss = step_loss
        now = time.monotonic()
        to_log, to_show = step % log_every == 0 or step == total, step == total or now - shown_at >= TERMINAL_EVERY_S
        if to_log or to_show:
            eta = (now - loop_started) / (step - start_step) * (total - step)
            line = f"step {step}/{total} loss {step_loss:.4f} eta {eta:.0f}s"
            if to_log:
                log(line)
            if to_show:
                _terminal.info("%s", line)
                shown_at = now
        if step % settings.checkpoint_every == 0 or step == total:
            _save_checkpoint(out_dir, step, denoiser, optimizer, scaler, settings, step_loss, kind, request)

    denoiser.eval()
    adapter, steps_done = save_adapter(out_dir, denoiser, kind.name), total  # resumed at or before `total`
    seconds = time.monotonic() - started
    summary = {
        "steps_done": steps_done,
        "final_loss": last_loss,
        "settings": asdict(settings),
        "family": kind.name,
        "model_dir": str(Path(model_dir)),
        "images": len(dataset),
        "request_id": rid,
        "resumed_from": start_step,
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    log(f"saved {adapter} after {steps_done} steps in {seconds:.1f}s")
    return TrainResult(steps_done, last_loss, losses, adapter, seconds, resumed_from=start_step)
