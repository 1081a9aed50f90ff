"""What each step asks its provider for: the cache-keyed request, the price estimate, and the
function that really produces the files. Steps run these; `shortdrama plan` only prices them.

A step's provider config is its rule spec's result fields (what Snakemake tracks) merged over the
runtime's full config for that group (pricing, concurrency and fallback, which it does not).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

from .config import VIDEO_VENDORS, ImageConfig, LLMConfig, MusicConfig, ProviderConfig, VideoConfig, VoiceConfig
from .cost import pricing as price
from .cost.call import Billing, Call, Estimate, PaidFailure, Produce, Runtime
from .cost.cache import canonical_json
from .errors import ProviderError, SchemaError, ShortDramaError
from .fake_paid import count_fake_call
from .media import write_text_atomic
from .model_paths import resolve_model
from .schemas import read_outline, write_document
from .writers.base import SeriesBrief

# Expected size of a writer's answer, for token-priced LLMs; the ledger records the real size.
EXPECTED_OUTLINE_CHARS = 3000
EXPECTED_SCRIPT_CHARS = 6000


def _merged(model: type[ProviderConfig], runtime: Runtime, group: str, result_fields: dict[str, Any]) -> Any:
    return model.model_validate({**runtime.provider(group), **result_fields})


def brief(spec: str) -> SeriesBrief:
    return SeriesBrief.from_dict(json.loads(spec)["brief"])


def _writer_billing(writer: Any, llm: LLMConfig) -> Billing | None:
    """A hosted writer reports the tokens of every agent call it made; they are what is billed."""
    usage = getattr(writer, "usage", None)
    if usage is None or not (usage.prompt_tokens or usage.completion_tokens):
        return None  # no usage reported: the caller falls back to an estimate from the text sizes
    return Billing(cost_usd=price.token_cost(llm.pricing, usage.prompt_tokens, usage.completion_tokens, usage.calls),
                   tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens)


def _schema_checked(write: Any, what: str, writer: Any = None, llm: LLMConfig | None = None) -> Any:
    """A writer's answer that breaks the schema is the writer's error, reported as one line. A writer
    that fails after its agents were answered (and billed) says what that cost (`PaidFailure`), so the
    ledger counts it and a retry in the same build does not buy the same failure again."""
    from pydantic import ValidationError

    try:
        try:
            return write()
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SchemaError(f"the writer's {what} is invalid at {where}: {first['msg']}") from None
    except ShortDramaError as error:
        billing = _writer_billing(writer, llm) if writer is not None and llm is not None else None
        if billing is None or isinstance(error, PaidFailure):
            raise
        raise PaidFailure(str(error), billing) from None


def _count_if_fake(provider: Any, step: str, **details: Any) -> None:
    if getattr(provider, "provider", "") == "fake_paid":
        count_fake_call(step, provider.model, **details)


# -- writer ---------------------------------------------------------------------------------------

def outline_call(spec: str, runtime: Runtime) -> tuple[Call, LLMConfig]:
    data = json.loads(spec)
    return Call(rule="write_outline", step="outline", version=1, request={"brief": data["brief"]}), \
        _merged(LLMConfig, runtime, "llm", data["llm"])


def outline_estimate(call: Call) -> Estimate:
    prompt = len(canonical_json(call.request))
    return lambda llm: price.llm_cost(llm.pricing, prompt, EXPECTED_OUTLINE_CHARS)


def produce_outline(spec: str) -> Produce:
    def produce(llm: LLMConfig, outputs: dict[str, Path]) -> float | Billing:
        series = brief(spec)
        from .writers import make_writer

        writer = make_writer(llm)
        outline = _schema_checked(lambda: writer.write_outline(series), "outline", writer, llm)
        write_document(outline, outputs["outline"])
        _count_if_fake(llm, "outline")
        return _writer_billing(writer, llm) or price.llm_cost(llm.pricing, len(spec), outputs["outline"].stat().st_size)

    return produce


def check_outline(spec: str, path: Path) -> None:
    """Everything an outline must satisfy, checked before it is cached and again before a cached one is used."""
    series, outline = brief(spec), read_outline(path)
    if len(outline.episodes) != series.episodes:
        raise SchemaError(f"the writer planned {len(outline.episodes)} episodes; the series asks for {series.episodes}")
    if outline.language != series.language:
        raise SchemaError(f"the outline is in {outline.language!r}; the series language is {series.language!r}")


def check_episode_script(spec: str, episode: int, path: Path) -> None:
    from .schemas import check_script, read_script

    series = brief(spec)
    check_script(read_script(path), series.cast_names, language=series.language, episode=episode)


def script_call(spec: str, outline: Path, episode: int, runtime: Runtime) -> tuple[Call, LLMConfig]:
    data = json.loads(spec)
    call = Call(rule="write_episode_script", step="episode_script", version=1,
                request={"brief": data["brief"], "episode": episode}, inputs={"outline": outline}, episode=episode)
    return call, _merged(LLMConfig, runtime, "llm", data["llm"])


def script_estimate(call: Call) -> Estimate:
    prompt = len(canonical_json(call.request)) + EXPECTED_OUTLINE_CHARS
    return lambda llm: price.llm_cost(llm.pricing, prompt, EXPECTED_SCRIPT_CHARS)


def produce_script(spec: str, outline_path: Path, episode: int) -> Produce:
    def produce(llm: LLMConfig, outputs: dict[str, Path]) -> float | Billing:
        from .writers import make_writer

        series, outline = brief(spec), read_outline(outline_path)
        writer = make_writer(llm)
        script = _schema_checked(lambda: writer.write_episode(series, outline, outline.episodes[episode - 1]),
                                 f"episode {episode} script", writer, llm)
        write_document(script, outputs["script"])
        _count_if_fake(llm, "episode_script", episode=episode)
        return _writer_billing(writer, llm) or price.llm_cost(llm.pricing, len(spec) + outline_path.stat().st_size, outputs["script"].stat().st_size)

    return produce


# -- keyframes ------------------------------------------------------------------------------------

def keyframe_call(spec: str, episode: int, scene: int, runtime: Runtime,
                  loras: Sequence[Path] = ()) -> tuple[Call, ImageConfig]:
    data = json.loads(spec)
    request = {k: data.get(k) for k in ("scene", "characters", "size", "seed", "lora_weight")}
    inputs = {f"lora_{Path(p).parent.name}": Path(p) for p in loras}
    call = Call(rule="generate_keyframe", step="keyframe", version=1, request=request, inputs=inputs,
                episode=episode, scene=scene)
    return call, _merged(ImageConfig, runtime, "image", data["image"])


def keyframe_estimate(image: ImageConfig) -> float:
    return price.image_cost(image.pricing)


def produce_keyframe(spec: str, loras: Sequence[Path] = ()) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        from .keyframes.base import CharacterLook, KeyframeRequest
        from .keyframes.procedural import ProceduralKeyframes

        data = json.loads(spec)
        scene = data["scene"]
        if image.provider == "diffusers":
            return _diffusion_keyframe(data, image, loras, outputs["png"])
        request = KeyframeRequest(
            setting=scene["location"]["setting"], place=scene["location"]["description"], action=scene["action"],
            camera=scene["camera"],
            characters=tuple(CharacterLook(name=c["name"], slug=c["id"], look=c["look"], gender=c["gender"])
                             for c in data["characters"]),
            width=data["size"][0], height=data["size"][1], seed=data["seed"], caption=scene["action"],
        )
        ProceduralKeyframes(show_caption=image.captions, show_name_tags=image.name_tags).generate(request, outputs["png"])

    return produce


def _diffusion_keyframe(data: dict, image: ImageConfig, loras: Sequence[Path], out: Path) -> None:
    from .keyframes.diffusion import CharacterAdapter, generate_keyframe
    from .lora.dataset import trigger_token
    from .video.prompt import video_prompt

    scene = data["scene"]
    prompt = video_prompt(scene["camera"], scene["location"]["setting"], scene["location"]["description"],
                          scene["action"], data["characters"])
    adapters = [CharacterAdapter(name=Path(p).parent.name, path=Path(p), trigger=trigger_token(Path(p).parent.name))
                for p in loras]
    generate_keyframe(resolve_model(image.model_dir, "image"), prompt, "blurry, low quality, watermark, text", adapters,
                      data["lora_weight"] or 0.0, image.steps, image.guidance, (image.gen_width, image.gen_height),
                      tuple(data["size"]), data["seed"], out, family=image.family, scheduler=image.scheduler)


# -- clips ----------------------------------------------------------------------------------------

def clip_call(spec: str, keyframe: Path, episode: int, scene: int, runtime: Runtime) -> tuple[Call, VideoConfig]:
    data = json.loads(spec)
    request = {k: data[k] for k in ("prompt", "seed", "camera", "duration", "encoding")}
    call = Call(rule="generate_clip", step="clip", version=1, request=request, inputs={"keyframe": keyframe},
                episode=episode, scene=scene)
    return call, _merged(VideoConfig, runtime, "video", data["video"])


def clip_estimate(spec: str) -> Estimate:
    data = json.loads(spec)
    enc = data["encoding"]
    return lambda video: price.video_cost(video.pricing, data["duration"], enc["width"], enc["height"])


def produce_clip(spec: str, keyframe: Path, call: Call, runtime: Runtime) -> Produce:
    def produce(video: VideoConfig, outputs: dict[str, Path]) -> Billing | None:
        from .video.animatic import AnimaticVideo
        from .video.base import ClipRequest, Encoding

        data = json.loads(spec)
        if video.provider in HOSTED_CLIP_MAKERS:
            return HOSTED_CLIP_MAKERS[video.provider](data, keyframe, call, video, runtime, outputs["mp4"])
        if video.provider == "diffusers":
            return _local_diffusion_clip(data, keyframe, video, outputs["mp4"])
        request = ClipRequest(keyframe=keyframe, camera=data["camera"], duration=data["duration"],
                              encoding=Encoding.from_spec(data["encoding"]))
        AnimaticVideo(motion=video.motion, strength=video.strength).generate(request, outputs["mp4"])
        _count_if_fake(video, "clip", duration=data["duration"])

    return produce


def _hosted_clip(data: dict, keyframe: Path, call: Call, video: VideoConfig, runtime: Runtime, out: Path) -> Billing:
    from .cost.call import call_key
    from .http import RetryPolicy
    from .video.base import Encoding
    from .video.conform import conform_clip
    from .video.jobs import ChainEntry, EngineSettings, JobEngine
    from .video.vendors import adapter
    from .video.vendors.base import JobRequest, VendorModel

    chain = video.chain()
    enc = data["encoding"]
    entries = [ChainEntry(adapter(m.provider), VendorModel(
        base_url=m.base_url or "", model=m.model, api_key_env=m.api_key_env, secret_key_env=m.secret_key_env,
        options=dict(m.options), preset=m.preset), sellable=tuple(m.pricing.billing_seconds)) for m in chain]
    settings = EngineSettings(
        poll_interval_s=video.poll_interval_s, job_timeout_s=video.job_timeout_s,
        retry=RetryPolicy(max_attempts=video.max_attempts, max_total_s=video.max_total_s, request_timeout_s=video.timeout_s))
    sellable = video.pricing.billing_seconds
    if sellable and data["duration"] > max(sellable):
        raise ProviderError(f"scene lasts {data['duration']:g} s but {video.model} sells clips of at most "
                            f"{max(sellable):g} s: shorten or split the scene")
    # The engine asks each model of the chain for a length it sells (a 3 s scene is bought as a 5 s
    # clip, or a 6 s one from a vendor selling 6 and 10 s); conform trims it to the scene.
    request = JobRequest(key=call_key(call, video), prompt=data["prompt"], duration=data["duration"], width=enc["width"],
                         height=enc["height"], fps=enc["fps"], seed=data["seed"], reference_image=keyframe,
                         negative_prompt=video.negative_prompt)
    downloaded = out.with_name(out.stem + ".download.mp4")
    # A failure after the vendor billed the job (its download or conform fails) is no PaidFailure: the
    # job record makes the retry free (the same job is fetched again, never bought again), and the
    # retry's success then bills the job once.
    engine = JobEngine(entries, settings, runtime.cache_dir / "jobs")
    try:
        result = engine.generate(request, downloaded)
        conform_clip(downloaded, out, Encoding.from_spec(enc), data["duration"])
    finally:
        engine.close()
        downloaded.unlink(missing_ok=True)
    answered = next(m for m in chain if m.model == result.model)
    if result.units is not None and answered.pricing.per_unit > 0:
        # The vendor's own figure for this job beats our price table, which may be out of date.
        return Billing(cost_usd=round(result.units * answered.pricing.per_unit, 6), model=result.model,
                       note=f"{result.vendor} reported {result.units:g} units")
    return Billing(cost_usd=price.video_cost(answered.pricing, data["duration"], enc["width"], enc["height"]),
                   model=result.model)


def _local_diffusion_clip(data: dict, keyframe: Path, video: VideoConfig, out: Path) -> None:
    from .video.base import Encoding
    from .video.diffusion import LocalVideoSettings, generate_local_clip

    settings = LocalVideoSettings(
        model_dir=resolve_model(video.model_dir, "video"), pipeline=video.pipeline, steps=video.steps, guidance=video.guidance,
        gen_width=video.gen_width, gen_height=video.gen_height, num_frames=video.num_frames,
        native_fps=video.native_fps, extend=video.extend, negative_prompt=video.negative_prompt,
        cpu_offload=video.cpu_offload)
    report = generate_local_clip(settings, keyframe, data["prompt"], data["seed"], data["duration"],
                                 Encoding.from_spec(data["encoding"]), out)
    logging.getLogger(__name__).info("local clip: %s", report.summary())


HOSTED_CLIP_MAKERS = {name: _hosted_clip for name in ("job_api", *VIDEO_VENDORS)}


# -- dialogue -------------------------------------------------------------------------------------

def dialogue_call(spec: str, episode: int, scene: int, runtime: Runtime) -> tuple[Call, VoiceConfig]:
    data = json.loads(spec)
    request = {k: data[k] for k in ("dialogue", "duration", "language", "voices")}
    # version 2: the cues file lists the lines that did not fit ("dropped": true)
    call = Call(rule="speak_dialogue", step="dialogue", version=2, request=request, episode=episode, scene=scene)
    return call, _merged(VoiceConfig, runtime, "voice", data["voice"])


def dialogue_estimate(spec: str) -> Estimate:
    characters = sum(len(line["text"]) for line in json.loads(spec)["dialogue"])
    return lambda voice: price.speech_cost(voice.pricing, characters)


def produce_dialogue(spec: str) -> Produce:
    """Speak a scene's lines into `wav` and write their timings to `cues`: a JSON list with one
    {speaker, text, start, end} per line that is heard. A line that does not fit in the scene, even
    spoken fast with the pauses closed, is dropped: it is listed too, with "dropped": true and
    start == end == the scene's end, so readers of the cues (subtitles) show nothing for it and a
    later check can flag it (`dropped_lines_warning` says so in the build's output)."""

    def produce(voice: VoiceConfig, outputs: dict[str, Path]) -> None:
        from .audio.dialogue import SpokenLine, render_scene_dialogue
        from .audio.wav import write_wav
        from .voice.base import voice_for_character
        from .voice.espeak import EspeakVoice

        data = json.loads(spec)
        voices = {name: voice_for_character(v["index"], v["gender"], data["language"], base_rate=voice.rate)
                  for name, v in data["voices"].items()}
        lines = [SpokenLine(speaker=line["speaker"], text=line["text"], voice=voices[line["speaker"]])
                 for line in data["dialogue"]]
        samples, cues = render_scene_dialogue(lines, data["duration"], EspeakVoice(), sample_rate=48000)
        end = float(data["duration"])
        records = [cue.__dict__ for cue in cues] + [
            {"speaker": line["speaker"], "text": line["text"], "start": end, "end": end, "dropped": True}
            for line in _dropped_lines(data["dialogue"], cues)]
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


def dropped_lines_warning(spec: str, cues_path: Path, where: str) -> str | None:
    """One line for the build's output when the scene's cues (made now or restored from the cache)
    list dropped lines."""
    data = json.loads(spec)
    dropped = [cue for cue in json.loads(Path(cues_path).read_text(encoding="utf-8")) if cue.get("dropped")]
    if not dropped:
        return None
    return (f"{where}: {len(dropped)} of {len(data['dialogue'])} dialogue lines do not fit in {data['duration']:g} s "
            f"and were dropped: shorten them or lengthen the scene")


# -- music and mix --------------------------------------------------------------------------------

def mix_call(spec: str, dialogue_wavs: Sequence[Path], episode: int, runtime: Runtime) -> tuple[Call, MusicConfig]:
    data = json.loads(spec)
    request = {k: data[k] for k in ("durations", "mood", "loudness_lufs", "seed")}
    inputs = {f"dialogue_{i:02d}": Path(p) for i, p in enumerate(dialogue_wavs, start=1)}
    call = Call(rule="mix_episode_audio", step="music_mix", version=1, request=request, inputs=inputs, episode=episode)
    return call, _merged(MusicConfig, runtime, "music", data["music"])


def mix_estimate(spec: str) -> Estimate:
    total = sum(json.loads(spec)["durations"])
    return lambda music: price.audio_cost(music.pricing, total)


def produce_mix(spec: str, dialogue_wavs: Sequence[Path]) -> Produce:
    def produce(music: MusicConfig, outputs: dict[str, Path]) -> None:
        from .audio.mix import mix_episode

        data = json.loads(spec)
        mix_episode(list(dialogue_wavs), data["durations"], data["mood"], outputs["wav"],
                    music_volume_db=music.volume_db, duck_db=music.duck_db, target_lufs=data["loudness_lufs"],
                    seed=data["seed"], music_enabled=music.enabled)

    return produce
