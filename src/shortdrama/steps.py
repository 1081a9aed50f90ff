"""One function per Snakemake rule: a spec (see specs.py) and input paths in, output files out.

Each step is importable and testable without Snakemake; scripts/<rule>.py only adapts the
`snakemake` object to one of these calls. Imports of heavy providers are local so a job only
pays for what it uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .errors import SchemaError
from .media import write_text_atomic
from .schemas import EpisodeScript, Outline, check_script, read_outline, write_document


def record_config(spec: str, out: str | Path) -> None:
    """Provenance: the composed, validated configuration this build ran with."""
    import yaml

    write_text_atomic(out, yaml.safe_dump(json.loads(spec), allow_unicode=True, sort_keys=False))


def write_outline(spec: str, out: str | Path) -> Outline:
    from .config import LLMConfig
    from .writers import make_writer
    from .writers.base import SeriesBrief

    data = json.loads(spec)
    brief = SeriesBrief.from_dict(data["brief"])
    outline = make_writer(LLMConfig.model_validate(data["llm"])).write_outline(brief)
    if len(outline.episodes) != brief.episodes:
        raise SchemaError(f"the writer planned {len(outline.episodes)} episodes; the series asks for {brief.episodes}")
    write_document(outline, out)
    return outline


def write_episode_script(spec: str, outline_path: str | Path, episode: int, out: str | Path) -> EpisodeScript:
    from .config import LLMConfig
    from .writers import make_writer
    from .writers.base import SeriesBrief

    data = json.loads(spec)
    brief = SeriesBrief.from_dict(data["brief"])
    outline = read_outline(outline_path)
    script = make_writer(LLMConfig.model_validate(data["llm"])).write_episode(brief, outline, outline.episodes[episode - 1])
    check_script(script, brief.cast_names)
    write_document(script, out)
    return script


def generate_keyframe(spec: str, out: str | Path) -> None:
    from .keyframes.base import CharacterLook, KeyframeRequest
    from .keyframes.procedural import ProceduralKeyframes

    data = json.loads(spec)
    scene, image = data["scene"], data["image"]
    request = KeyframeRequest(
        setting=scene["location"]["setting"],
        place=scene["location"]["description"],
        action=scene["action"],
        camera=scene["camera"],
        characters=tuple(CharacterLook(name=c["name"], slug=c["id"], role=c["role"], look=c["look"], gender=c["gender"])
                         for c in data["characters"]),
        width=data["size"][0],
        height=data["size"][1],
        seed=data["seed"],
        caption=scene["action"],
    )
    ProceduralKeyframes(show_caption=image["captions"], show_name_tags=image["name_tags"]).generate(request, Path(out))


def generate_clip(spec: str, keyframe: str | Path, out: str | Path) -> None:
    from .specs import Encoding
    from .video.animatic import AnimaticVideo
    from .video.base import ClipRequest

    data = json.loads(spec)
    video = data["video"]
    request = ClipRequest(keyframe=Path(keyframe), camera=data["camera"], duration=data["duration"],
                          encoding=Encoding.from_spec(data["encoding"]))
    AnimaticVideo(motion=video["motion"], strength=video["strength"]).generate(request, Path(out))


def speak_dialogue(spec: str, wav_out: str | Path, cues_out: str | Path) -> None:
    from .audio.dialogue import SpokenLine, render_scene_dialogue
    from .audio.wav import write_wav
    from .voice.base import voice_for_character
    from .voice.espeak import EspeakVoice

    data = json.loads(spec)
    rate = data["voice"]["rate"]
    voices = {name: voice_for_character(v["index"], v["gender"], data["language"], base_rate=rate)
              for name, v in data["voices"].items()}
    lines = [SpokenLine(speaker=line["speaker"], text=line["text"], voice=voices[line["speaker"]])
             for line in data["dialogue"]]
    sample_rate = 48000
    samples, cues = render_scene_dialogue(lines, data["duration"], EspeakVoice(), sample_rate=sample_rate)
    write_wav(wav_out, samples, sample_rate)
    write_text_atomic(cues_out, json.dumps([cue.__dict__ for cue in cues], ensure_ascii=False, indent=1) + "\n")


def write_subtitles(spec: str, cue_files: Sequence[str | Path], out: str | Path) -> None:
    from .subtitles import episode_cues, format_srt

    durations = json.loads(spec)["durations"]
    scenes = [json.loads(Path(path).read_text(encoding="utf-8")) for path in cue_files]
    write_text_atomic(out, format_srt(episode_cues(scenes, durations)))


def mix_episode_audio(spec: str, dialogue_wavs: Sequence[str | Path], out: str | Path) -> None:
    from .audio.mix import mix_episode

    data = json.loads(spec)
    music = data["music"]
    mix_episode(
        [Path(p) for p in dialogue_wavs], data["durations"], data["mood"], Path(out),
        music_volume_db=music["volume_db"], duck_db=music["duck_db"], target_lufs=data["loudness_lufs"],
        seed=data["seed"], music_enabled=music["enabled"],
    )


def render_episode(spec: str, clips: Sequence[str | Path], audio: str | Path, subtitles: str | Path, out: str | Path) -> None:
    from .render import EpisodeRender, render_episode as render

    data = json.loads(spec)
    render(EpisodeRender.from_spec(data, [Path(c) for c in clips], Path(audio), Path(subtitles)), Path(out))


def read_script_checked(path: str | Path, cast_names: Sequence[str]) -> EpisodeScript:
    """A script as a rule reads it back: it may have been edited by hand, so validate it again."""
    from .schemas import read_script

    script = read_script(path)
    check_script(script, cast_names)
    return script
