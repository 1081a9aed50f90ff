"""One function per Snakemake rule: a spec (see specs.py) and input paths in, output files out.

Each step is importable and testable without Snakemake; scripts/<rule>.py only adapts the
`snakemake` object to one of these calls. Every provider call goes through
`cost.call.provider_call` (cache, budget, ledger); the call descriptions live in `calls.py` so that
`shortdrama plan` prices exactly what a step would request. Heavy imports are local so a job only
pays for what it uses.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from . import calls, character_calls
from .cost.call import Runtime, provider_call
from .media import write_text_atomic
from .provenance import outdated_name
from .schemas import EpisodeScript, check_script, read_script


def record_config(spec: str, out: str | Path) -> None:
    """Provenance: the composed, validated configuration this build ran with."""
    import yaml

    write_text_atomic(out, yaml.safe_dump(json.loads(spec), allow_unicode=True, sort_keys=False))


def write_outline(spec: str, out: str | Path, runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    call, llm = calls.outline_call(spec, runtime)
    provider_call(runtime, call, llm, calls.outline_estimate(call), calls.produce_outline(spec), {"outline": Path(out)},
                  validate=lambda files: calls.check_outline(spec, files["outline"]))


def write_episode_script(spec: str, outline_path: str | Path, episode: int, out: str | Path,
                         runtime: Runtime | None = None) -> EpisodeScript:
    runtime = runtime or Runtime.from_env()
    call, llm = calls.script_call(spec, Path(outline_path), episode, runtime)
    provider_call(runtime, call, llm, calls.script_estimate(call), calls.produce_script(spec, Path(outline_path), episode),
                  {"script": Path(out)}, validate=lambda files: calls.check_episode_script(spec, episode, files["script"]))
    return read_script(out)


def generate_keyframe(spec: str, out: str | Path, episode: int = 0, scene: int = 0, loras: Sequence[str | Path] = (),
                      runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    adapters = [Path(p) for p in loras]
    call, image = calls.keyframe_call(spec, episode, scene, runtime, adapters)
    provider_call(runtime, call, image, calls.keyframe_estimate, calls.produce_keyframe(spec, adapters), {"png": Path(out)})


def generate_character_references(spec: str, images: Sequence[str | Path], runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    call, image = character_calls.references_call(spec, runtime)
    provider_call(runtime, call, image, character_calls.references_estimate(spec),
                  character_calls.produce_references(spec), character_calls.reference_outputs(images))


def train_character_lora(spec: str, references: Sequence[str | Path], out: str | Path,
                         runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    references = [Path(p) for p in references]
    call, image = character_calls.lora_call(spec, references, runtime)
    provider_call(runtime, call, image, character_calls.lora_estimate,
                  character_calls.produce_lora(spec, references, Path(out)), {"lora": Path(out)})


def draw_contact_sheet(spec: str, lora: str | Path, out: str | Path, runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    call, image = character_calls.contact_sheet_call(spec, Path(lora), runtime)
    provider_call(runtime, call, image, character_calls.contact_sheet_estimate,
                  character_calls.produce_contact_sheet(spec, Path(lora)), {"png": Path(out)})


def generate_clip(spec: str, keyframe: str | Path, out: str | Path, episode: int = 0, scene: int = 0,
                  runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    call, video = calls.clip_call(spec, Path(keyframe), episode, scene, runtime)
    provider_call(runtime, call, video, calls.clip_estimate(spec), calls.produce_clip(spec, Path(keyframe), call, runtime),
                  {"mp4": Path(out)})


def speak_dialogue(spec: str, wav_out: str | Path, cues_out: str | Path, episode: int = 0, scene: int = 0,
                   runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    call, voice = calls.dialogue_call(spec, episode, scene, runtime)
    provider_call(runtime, call, voice, calls.dialogue_estimate(spec), calls.produce_dialogue(spec),
                  {"wav": Path(wav_out), "cues": Path(cues_out)})
    warning = calls.dropped_lines_warning(spec, Path(cues_out), f"ep{episode:02d} sc{scene:02d}")
    if warning:
        logging.getLogger(__name__).warning("%s", warning)
        print(f"shortdrama: warning: {warning}", file=sys.stderr, flush=True)


def write_subtitles(spec: str, cue_files: Sequence[str | Path], out: str | Path) -> None:
    from .subtitles import episode_cues, format_srt

    durations = json.loads(spec)["durations"]
    scenes = [json.loads(Path(path).read_text(encoding="utf-8")) for path in cue_files]
    write_text_atomic(out, format_srt(episode_cues(scenes, durations)))


def mix_episode_audio(spec: str, dialogue_wavs: Sequence[str | Path], out: str | Path, episode: int = 0,
                      runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    wavs = [Path(p) for p in dialogue_wavs]
    call, music = calls.mix_call(spec, wavs, episode, runtime)
    provider_call(runtime, call, music, calls.mix_estimate(spec), calls.produce_mix(spec, wavs), {"wav": Path(out)})


def render_episode(spec: str, clips: Sequence[str | Path], audio: str | Path, subtitles: str | Path, out: str | Path) -> None:
    from .render import EpisodeRender, render_episode as render

    data = json.loads(spec)
    render(EpisodeRender.from_spec(data, [Path(c) for c in clips], Path(audio), Path(subtitles)), Path(out))
    outdated_name(out).unlink(missing_ok=True)  # the final it replaces (see provenance.remove_stale)


def read_script_checked(path: str | Path, cast_names: Sequence[str], *, language: str | None = None,
                        episode: int | None = None) -> EpisodeScript:
    """A script as a rule reads it back: it may have been edited by hand, so validate it again."""
    script = read_script(path)
    check_script(script, cast_names, language=language, episode=episode)
    return script
