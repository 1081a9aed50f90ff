"""What each generation rule depends on, as an order-stable JSON string, and nothing more.

Snakemake reruns a job when the `repr` of its params changes, so these strings are the project's
change detector. Each job also receives its spec as its only configuration, which keeps the spec
honest: a step cannot read something the spec forgot to name.
"""

from __future__ import annotations

import json
from typing import Any

from .config import AppConfig, CharacterConfig
from .schemas import EpisodeScript, Scene
from .video.base import on_frames
from .video.prompt import video_prompt
from .writers.base import SeriesBrief


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def config_spec(cfg: AppConfig) -> str:
    return _dump(cfg.model_dump(mode="json"))


def outline_spec(cfg: AppConfig) -> str:
    return _dump({"brief": SeriesBrief.from_config(cfg).to_dict(), "llm": cfg.llm.result_fields()})


def script_spec(cfg: AppConfig, episode: int) -> str:
    """The brief and the writer; the outline itself is a file input, so a new outline rewrites the scripts."""
    return _dump({"brief": SeriesBrief.from_config(cfg).to_dict(), "llm": cfg.llm.result_fields(),
                  "episode": episode})


def _cast_by_name(cfg: AppConfig) -> dict[str, tuple[int, str, CharacterConfig]]:
    return {c.name: (index, cid, c) for index, (cid, c) in enumerate(cfg.series.cast.items())}


def lora_spec(cfg: AppConfig, character_id: str) -> str:
    """What a character's adapter depends on: its look (captions), the base model, the training
    settings. The reference images (given or generated) and their caption sidecars are file inputs."""
    character = cfg.series.cast[character_id]
    settings = cfg.lora.model_dump(mode="json", exclude={"weight", "min_references", "min_short_side", "enabled",
                                                        "reference_count"})
    return _dump({"character": character_id, "name": character.name, "look": character.look,
                  "image": cfg.image.result_fields(), "lora": settings,
                  "references": {"min_count": cfg.lora.min_references, "min_short_side": cfg.lora.min_short_side}})


def reference_size(cfg: AppConfig) -> int:
    """Generated references are square, at the training resolution and never under the validation minimum."""
    side = max(cfg.lora.resolution, cfg.lora.min_short_side)
    return -(-side // 8) * 8


def references_spec(cfg: AppConfig, character_id: str) -> str:
    """A generated reference set depends on the look, the base model and how many, how large, which seed."""
    character = cfg.series.cast[character_id]
    return _dump({"character": character_id, "look": character.look, "image": cfg.image.result_fields(),
                  "count": cfg.lora.reference_count, "size": reference_size(cfg), "seed": cfg.lora.seed})


def contact_sheet_spec(cfg: AppConfig, character_id: str) -> str:
    """The sheet redraws when the adapter (a file input), the look, the image model or the weight changes."""
    character = cfg.series.cast[character_id]
    return _dump({"character": character_id, "name": character.name, "look": character.look,
                  "image": cfg.image.result_fields(), "weight": cfg.lora.weight, "seed": cfg.lora.seed})


def keyframe_spec(cfg: AppConfig, scene: Scene) -> str:
    cast = _cast_by_name(cfg)
    # The role is left out: it changes nothing in the picture, so editing it must redraw nothing.
    characters = [{"id": cast[name][1], "name": name, "look": cast[name][2].look, "gender": cast[name][2].gender}
                  for name in scene.characters if name in cast]
    return _dump({
        "scene": {"location": scene.location.model_dump(mode="json"), "action": scene.action, "camera": scene.camera},
        "characters": characters,
        "image": cfg.image.result_fields(),
        "size": [cfg.render.width, cfg.render.height],
        "seed": cfg.seed,
        "lora_weight": cfg.lora.weight if cfg.lora.enabled else None,
    })


def clip_spec(cfg: AppConfig, scene: Scene) -> str:
    cast = _cast_by_name(cfg)
    on_screen = [{"name": n, "look": cast[n][2].look} for n in scene.characters if n in cast]
    return _dump({
        "prompt": video_prompt(scene.camera, scene.location.setting, scene.location.description, scene.action, on_screen),
        "seed": cfg.seed,
        "camera": scene.camera,
        "duration": on_frames(scene.duration, cfg.render.fps),
        "video": cfg.video.result_fields(),
        "encoding": _encoding(cfg),
    })


def dialogue_spec(cfg: AppConfig, scene: Scene) -> str:
    cast = _cast_by_name(cfg)
    voices = {line.speaker: {"index": cast[line.speaker][0], "gender": cast[line.speaker][2].gender}
              for line in scene.dialogue if line.speaker in cast}
    return _dump({
        "dialogue": [line.model_dump(mode="json") for line in scene.dialogue],
        "duration": on_frames(scene.duration, cfg.render.fps),
        "language": cfg.series.language,
        "voices": voices,
        "voice": cfg.voice.result_fields(),
    })


def _durations(cfg: AppConfig, script: EpisodeScript) -> list[float]:
    return [on_frames(s.duration, cfg.render.fps) for s in script.scenes]


def subtitles_spec(cfg: AppConfig, script: EpisodeScript) -> str:
    return _dump({"durations": _durations(cfg, script)})


def mix_spec(cfg: AppConfig, script: EpisodeScript) -> str:
    return _dump({
        "durations": _durations(cfg, script),
        "mood": script.mood,
        "music": cfg.music.result_fields(),
        "loudness_lufs": cfg.render.loudness_lufs,
        "seed": cfg.seed + script.episode,
    })


def render_spec(cfg: AppConfig, script: EpisodeScript) -> str:
    return _dump({
        "encoding": _encoding(cfg),
        "audio_bitrate": cfg.render.audio_bitrate,
        "subtitles": cfg.render.subtitles.model_dump(mode="json"),
        "language": script.language,
        "title": script.title,
        "durations": _durations(cfg, script),
    })


def _encoding(cfg: AppConfig) -> dict[str, Any]:
    r = cfg.render
    return {"width": r.width, "height": r.height, "fps": r.fps, "crf": r.crf, "preset": r.preset}
