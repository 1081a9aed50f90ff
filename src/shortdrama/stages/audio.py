"""Audio (rules/audio.smk): each scene's dialogue spoken into a track of exactly the scene's length
(with cue timings), then the episode mix: dialogue over a ducked music bed, loudness-normalised."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from ..config import AppConfig, MusicConfig, VoiceConfig
from ..cost import pricing as price
from ..cost.call import Call, Estimate, Produce, Runtime, provider_call
from ..errors import MediaError
from ..media import write_text_atomic
from ..schemas import EpisodeScript, Scene
from ..video.base import on_frames
from .base import Job, Priced, Rule, Series, Spec, cast_by_name


log = logging.getLogger(__name__)


def scene_durations(cfg: AppConfig, script: EpisodeScript) -> list[float]:
    """Each scene's length in whole frames, which is what it really lasts on screen."""
    return [on_frames(s.duration, cfg.render.fps) for s in script.scenes]


@dataclass(frozen=True)
class DialogueSpec(Spec):
    dialogue: list
    duration: float
    language: str
    voices: dict
    voice: dict
    # The scene's track is its clip's own sound (video.own_audio), not a voice's: the clip is the input.
    own_audio: bool = False
    PROVIDER_GROUP: ClassVar[str] = "voice"

    def to_dict(self) -> dict:
        """Without own_audio when it is off: a scene spoken by a voice has the spec it always had."""
        spec = super().to_dict()
        if not self.own_audio:
            del spec["own_audio"]
        return spec

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene, checkout: Path | None = None,
           record: Mapping[str, Any] | None = None) -> "DialogueSpec":
        """`record`: the series' voice casting record (voice.casting), which keeps every character's
        first casting when the cast changes."""
        from ..voice.casting import offline_indices

        cast = cast_by_name(cfg)
        indices = offline_indices(cfg, cfg.voice.provider, record)  # the cast position, unless recorded otherwise
        voices = {line.speaker: {"index": indices[cast[line.speaker][1]], "gender": cast[line.speaker][2].gender}
                  for line in scene.dialogue if line.speaker in cast}
        if cfg.voice.provider in VoiceConfig.HOSTED_PROVIDERS:  # each speaker's voice id and speed
            from ..voice.hosted import cast_hosted_voice

            for name, entry in voices.items():
                entry.update(cast_hosted_voice(cfg.voice, cfg, cast[name][1], checkout, record))
        for name, entry in voices.items():  # semitones, only where a cast entry names them
            named = cast[name][2].voice.get(cfg.voice.provider)
            if named is not None and named.pitch:
                entry["pitch"] = named.pitch
        return cls(dialogue=[line.model_dump(mode="json") for line in scene.dialogue],
                   duration=on_frames(scene.duration, cfg.render.fps), language=cfg.series.language, voices=voices,
                   voice=cfg.voice.result_fields(), own_audio=cfg.video.own_audio)


@dataclass(frozen=True)
class MixSpec(Spec):
    durations: list
    mood: str
    music: dict
    loudness_lufs: float
    seed: int
    PROVIDER_GROUP: ClassVar[str] = "music"

    @classmethod
    def of(cls, cfg: AppConfig, script: EpisodeScript) -> "MixSpec":
        return cls(durations=scene_durations(cfg, script), mood=script.mood, music=cfg.music.result_fields(),
                   loudness_lufs=cfg.render.loudness_lufs, seed=cfg.seed + script.episode)


class SpeakDialogue(Rule):
    name, scope, reads_script = "speak_dialogue", "scene", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, sc = wildcards["ep"], wildcards["sc"]
        spec = DialogueSpec.of(wf.cfg, wf.scene(script, sc), getattr(wf, "checkout", None), wf.voice_record())
        if spec.own_audio and not wf.keyframe_open(ep, sc):  # a keyframe held for approval: a still, no sound
            spec = replace(spec, own_audio=False)
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc}, spec,
                   {"wav": wf.paths.dialogue(ep, sc), "cues": wf.paths.cues(ep, sc)},
                   {"clip": (wf.paths.clip(ep, sc),) if spec.own_audio else ()})

    def price(self, job: Job, runtime: Runtime) -> Priced:
        clips = job.inputs.get("clip", ())
        call, voice = dialogue_call(job.spec, job.episode, job.scene, runtime, Path(clips[0]) if clips else None)
        if job.spec.own_audio:  # the clip's own sound: nothing to buy
            return Priced(call, voice, 0.0)
        if voice.provider in VoiceConfig.HOSTED_PROVIDERS:  # one call per line: only the lines not cached
            from ..voice.hosted import unbought_lines

            missing = unbought_lines(job.spec.voices, job.spec.dialogue, voice, runtime, job.episode, job.scene)
            return Priced(call, voice, sum(price.speech_cost(voice.pricing, len(text)) for text in missing))
        return Priced(call, voice, dialogue_estimate(job.spec)(voice))


class MixEpisodeAudio(Rule):
    name, scope, reads_script = "mix_episode_audio", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        scenes = wf.scene_ids(script)
        return Job(self.name, {"series": wf.series, "ep": ep}, MixSpec.of(wf.cfg, wf.script(script)),
                   {"wav": wf.paths.mix(ep), "music": wf.paths.music(ep)},
                   {"dialogue": tuple(wf.paths.dialogue(ep, sc) for sc in scenes)})

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, music = mix_call(job.spec, [Path(p) for p in job.inputs["dialogue"]], job.episode, runtime)
        return Priced(call, music, mix_estimate(job.spec)(music))


RULES = (SpeakDialogue(), MixEpisodeAudio())


# -- dialogue -------------------------------------------------------------------------------------------

def dialogue_call(spec: DialogueSpec, episode: int, scene: int, runtime: Runtime,
                  clip: Path | None = None) -> tuple[Call, VoiceConfig]:
    # version 2: the cues file lists the lines that did not fit ("dropped": true)
    call = Call(rule="speak_dialogue", step="dialogue", version=2, request=spec.request(), episode=episode,
                scene=scene, inputs={"clip": clip} if spec.own_audio and clip is not None else {})
    return call, spec.provider(VoiceConfig, runtime)


def dialogue_estimate(spec: DialogueSpec) -> Estimate:
    characters = sum(len(line["text"]) for line in spec.dialogue)
    return lambda voice: price.speech_cost(voice.pricing, characters)


def produce_dialogue(spec: DialogueSpec) -> Produce:
    """Speak a scene's lines into `wav` and write their timings to `cues`: a JSON list with one
    {speaker, text, start, end} per line that is heard. A line that does not fit in the scene, even
    spoken fast with the pauses closed, is dropped: it is listed too, with "dropped": true and
    start == end == the scene's end, so readers of the cues (subtitles) show nothing for it and a
    later check can flag it (`dropped_lines_warning` says so in the build's output)."""

    def produce(voice: VoiceConfig, outputs: dict[str, Path], speaker: Any = None) -> None:
        from ..audio.dialogue import SpokenLine, render_scene_dialogue
        from ..audio.wav import write_wav
        from dataclasses import replace

        from ..voice.base import PitchedVoice, VoiceSpec, voice_for_character, with_hints
        from ..voice.espeak import EspeakVoice
        from ..voice.hosted import voice_rate

        if speaker is None and voice.provider == "piper":  # a local ONNX voice: one speaker per character
            from ..model_paths import checkout_path
            from ..voice.piper import PiperVoice

            speaker = PitchedVoice(PiperVoice(checkout_path(voice.model_path) if voice.model_path else ""))
            voices = {name: VoiceSpec(language=spec.language, variant=f"sid{v['index']}", pitch=50, rate=voice.rate,
                                      semitones=v.get("pitch", 0))
                      for name, v in spec.voices.items()}
        elif speaker is None:  # the offline voice: eSpeak NG, one variant per character
            voices = {name: replace(voice_for_character(v["index"], v["gender"], spec.language, base_rate=voice.rate),
                                    semitones=v.get("pitch", 0))
                      for name, v in spec.voices.items()}
            speaker = PitchedVoice(EspeakVoice())
        else:  # a hosted voice: the cast voice id, its speed as a rate the layout can raise
            voices = {name: VoiceSpec(language=spec.language, variant=v["voice"], pitch=50,
                                      rate=voice_rate(v["speed"]), semitones=v.get("pitch", 0))
                      for name, v in spec.voices.items()}
        offline = voice.provider not in VoiceConfig.HOSTED_PROVIDERS
        lines = [SpokenLine(speaker=line["speaker"], text=line["text"], voice=with_hints(
                     voices[line["speaker"]], line.get("emotion"), line.get("delivery"), offline))
                 for line in spec.dialogue]
        samples, cues = render_scene_dialogue(lines, spec.duration, speaker, sample_rate=48000)
        end = float(spec.duration)
        records = [cue.__dict__ for cue in cues] + [
            {"speaker": line["speaker"], "text": line["text"], "start": end, "end": end, "dropped": True}
            for line in _dropped_lines(spec.dialogue, cues)]
        write_wav(outputs["wav"], samples, 48000)
        write_text_atomic(outputs["cues"], json.dumps(records, ensure_ascii=False, indent=1) + "\n")

    return produce


def _dropped_lines(dialogue: Sequence[dict[str, Any]], cues: Sequence[Any]) -> list[dict[str, Any]]:
    """The script's lines that got no cue, in order. Cues follow the lines in order; a line with
    nothing to say aloud ("...") gets none either and is not counted as dropped."""
    heard = iter(cues)
    cue = next(heard, None)
    dropped = []
    for line in dialogue:
        if cue is not None and (cue.speaker, cue.text) == (line["speaker"], line["text"]):
            cue = next(heard, None)
        elif any(ch.isalnum() for ch in line["text"]):
            dropped.append(line)
    return dropped


def dropped_lines_warning(spec: DialogueSpec, cues_path: Path, where: str) -> str | None:
    """One line for the build's output when the scene's cues (made now or restored from the cache)
    list dropped lines."""
    dropped = [cue for cue in json.loads(Path(cues_path).read_text(encoding="utf-8")) if cue.get("dropped")]
    if not dropped:
        return None
    return (f"{where}: {len(dropped)} of {len(spec.dialogue)} dialogue lines do not fit in {spec.duration:g} s "
            f"and were dropped: shorten them or lengthen the scene")


# -- music and mix --------------------------------------------------------------------------------------

def mix_call(spec: MixSpec, dialogue_wavs: Sequence[Path], episode: int, runtime: Runtime) -> tuple[Call, MusicConfig]:
    inputs = {f"dialogue_{i:02d}": Path(p) for i, p in enumerate(dialogue_wavs, start=1)}
    # version 2: the ducked music bed is an output too (the editor's stem beside the mix)
    call = Call(rule="mix_episode_audio", step="music_mix", version=2, request=spec.request(), inputs=inputs,
                episode=episode)
    return call, spec.provider(MusicConfig, runtime)


def mix_estimate(spec: MixSpec) -> Estimate:
    total = sum(spec.durations)
    return lambda music: price.audio_cost(music.pricing, total)


def produce_mix(spec: MixSpec, dialogue_wavs: Sequence[Path]) -> Produce:
    def produce(music: MusicConfig, outputs: dict[str, Path]) -> None:
        from ..audio.mix import mix_episode

        mix_episode(list(dialogue_wavs), spec.durations, spec.mood, outputs["wav"], music_volume_db=music.volume_db,
                    duck_db=music.duck_db, target_lufs=spec.loudness_lufs, seed=spec.seed, music_enabled=music.enabled,
                    music_out=outputs.get("music"))

    return produce


# -- steps (what scripts/<rule>.py call) ------------------------------------------------------------------

def produce_own_dialogue(spec: DialogueSpec, clip: Path) -> Produce:
    """The scene's track from its clip's own sound, its cues laid over the speech it holds (audio.own_audio)."""
    def produce(voice: VoiceConfig, outputs: dict[str, Path]) -> None:
        from ..audio.own_audio import clip_track, lay_cues, voiced_spans
        from ..audio.wav import write_wav

        track = clip_track(clip, spec.duration)
        cues = lay_cues(spec.dialogue, voiced_spans(track, 48000), float(spec.duration))
        write_wav(outputs["wav"], track, 48000)
        write_text_atomic(outputs["cues"], json.dumps(cues, ensure_ascii=False, indent=1) + "\n")

    return produce


def speak_dialogue(spec: str, wav_out: str | Path, cues_out: str | Path, episode: int = 0, scene: int = 0,
                   runtime: Runtime | None = None, clip: str | Path | Sequence[str | Path] | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    dialogue = DialogueSpec.from_json(spec)
    if not isinstance(clip, (str, Path)):
        clip = next(iter(clip), None) if clip else None
    call, voice = dialogue_call(dialogue, episode, scene, runtime, Path(clip) if clip else None)
    if dialogue.own_audio:
        if clip is None:
            raise MediaError(f"ep{episode:02d} sc{scene:02d}: video.own_audio needs the scene's clip")
        provider_call(runtime, call, voice, lambda _voice: 0.0, produce_own_dialogue(dialogue, Path(clip)),
                      {"wav": Path(wav_out), "cues": Path(cues_out)})
    elif voice.provider in VoiceConfig.HOSTED_PROVIDERS:
        # Each line is its own provider call (voice.hosted): cached, priced and budgeted line by line.
        from ..voice.hosted import HostedLineVoice

        from ..voice.hosted import voice_rate

        samples = {v["voice"]: v["sample"] for v in dialogue.voices.values() if "sample" in v}
        rates = {v["voice"]: voice_rate(v["speed"]) for v in dialogue.voices.values()}
        produce_dialogue(dialogue)(voice, {"wav": Path(wav_out), "cues": Path(cues_out)},
                                   HostedLineVoice(voice, runtime, episode, scene, samples, rates))
    else:
        provider_call(runtime, call, voice, dialogue_estimate(dialogue), produce_dialogue(dialogue),
                      {"wav": Path(wav_out), "cues": Path(cues_out)})
    warning = dropped_lines_warning(dialogue, Path(cues_out), f"ep{episode:02d} sc{scene:02d}")
    if warning:
        log.warning("%s", warning)
        print(f"shortdrama: warning: {warning}", file=sys.stderr, flush=True)


def mix_episode_audio(spec: str, dialogue_wavs: Sequence[str | Path], out: str | Path, episode: int = 0,
                      runtime: Runtime | None = None, music_out: str | Path | None = None) -> None:
    """The episode mix, and its ducked music bed as a stem (`music_out`) for an editor's timeline."""
    runtime = runtime or Runtime.from_env()
    mix, wavs = MixSpec.from_json(spec), [Path(p) for p in dialogue_wavs]
    call, music = mix_call(mix, wavs, episode, runtime)
    outputs = {"wav": Path(out), **({"music": Path(music_out)} if music_out is not None else {})}
    provider_call(runtime, call, music, mix_estimate(mix), produce_mix(mix, wavs), outputs)
