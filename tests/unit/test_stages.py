"""The stage modules: each rule's spec (its params) and provider request are those the code before
the stage refactor made (tests/unit/data/specs_before_stages.json: no rerun, no cache miss after an
upgrade), and the request is derived from the spec: no field can silently miss the cache key.

One deliberate change is written into that file: the subtitle style moved into the render config
(render.subtitles.font_size, ...), so render_episode's spec and record_config's carry it: a style edit
re-renders the finals (which call no provider), nothing else. Settings added since (video.poll_first_s,
issue 14; takes and qc/, issue 15; review.decisions, gate and respect_approvals, issue 16; the lipsync
group, video.own_audio and voice.app_id_env, issue 17; the deliver group, issue 18) are written into
record_config's spec. Issue 18 also bumped mix_episode_audio's call to version 2 (the music stem is an output), the record of the whole
composed config; no other rule's spec or request carries an operational setting. Issue 15 also wrote
`"take": 1` into each clip's spec (a scene now has takes): the params change once after the upgrade,
the request does not (the first take asks what a clip always asked), so those reruns are cache hits.
Issue 18's subtitle style (render.subtitles.font, back_colour, position, margin_l, margin_r) is written
into render_episode's and record_config's specs, and write_subtitles' spec gained the style, the
language and the frame (it writes the styled ASS): a style edit reruns the subtitles and the finals,
none of which calls a provider."""

import dataclasses
import json
from pathlib import Path

import pytest

from shortdrama.config import load_config
from shortdrama.cost.cache import canonical_json
from shortdrama.cost.call import Runtime, call_key
from shortdrama.schemas import EpisodeScript
from shortdrama.stages.base import Job, Rule, Spec
from shortdrama.stages.registry import RULES, STAGES

GOLDEN = json.loads((Path(__file__).parent / "data" / "specs_before_stages.json").read_text())


SPEC_OF = {
    "record_config": "ConfigSpec", "write_outline": "OutlineSpec", "write_episode_script": "ScriptSpec",
    "generate_character_references": "ReferencesSpec", "train_character_lora": "LoraSpec",
    "draw_contact_sheet": "ContactSheetSpec", "generate_keyframe": "KeyframeSpec", "generate_clip": "ClipSpec",
    "speak_dialogue": "DialogueSpec", "mix_episode_audio": "MixSpec", "write_subtitles": "SubtitlesSpec",
    "render_episode": "RenderSpec", "choose_take": "ChooseTakeSpec", "check_episode": "EpisodeQCSpec",
    "sync_lips": "LipsyncSpec", "write_timeline": "TimelineSpec", "cut_shot": "CutShotSpec", "cut_mix": "CutMixSpec",
    "deliver_episode": "DeliverSpec",
}
CLASSES = {cls.__name__: cls for stage in STAGES for cls in vars(stage).values()
           if isinstance(cls, type) and issubclass(cls, Spec) and cls.__module__ == stage.__name__}


def rebuilt(variant: dict, job: dict, cfg):  # noqa: ANN001
    """The job's spec as the stage modules make it now, from the same config and script."""
    cls = CLASSES[SPEC_OF[job["rule"]]]
    wc = job["wildcards"]
    if job["rule"] == "record_config":
        return cls.of(cfg)
    if job["rule"] == "write_outline":
        return cls.of(cfg)
    if job["rule"] == "write_episode_script":
        return cls.of(cfg, int(wc["ep"]))
    if "character" in wc:
        return cls.of(cfg, wc["character"])
    script = EpisodeScript.model_validate(variant["scripts"][wc["ep"]])
    if "sc" in wc:
        return cls.of(cfg, script.scenes[int(wc["sc"]) - 1])
    return cls.of(cfg, script)


CASES = [(name, i) for name, variant in GOLDEN.items() for i in range(len(variant["jobs"]))]


def test_every_rule_has_a_stage_and_every_stage_spec_a_rule():
    assert set(SPEC_OF) == set(RULES)
    assert set(SPEC_OF.values()) == set(CLASSES)


@pytest.mark.parametrize("variant", sorted(GOLDEN))
def test_specs_and_requests_are_what_they_were_before_the_stages(variant, tmp_path):
    data = GOLDEN[variant]
    cfg = load_config(data["overrides"])
    runtime = Runtime.from_config(cfg, tmp_path / "results/x", tmp_path / "cache")
    for job in data["jobs"]:
        spec = rebuilt(data, job, cfg)
        assert spec.to_json() == job["spec"], f"{variant} {job['rule']} {job['wildcards']}: the params spec changed"
        assert type(spec).from_json(job["spec"]).to_json() == job["spec"]
        if "request" not in job:
            assert RULES[job["rule"]].price.__func__ is Rule.price, f"{job['rule']} calls no provider"
            continue
        priced = RULES[job["rule"]].price(_job(job, spec), runtime)
        assert canonical_json(priced.call.request) == job["request"], f"{variant} {job['rule']}: the request changed"
        assert canonical_json(priced.provider.result_fields()) == job["provider"]
        assert (priced.call.step, priced.call.version) == (job["step"], job["version"])


def _job(job: dict, spec) -> Job:  # noqa: ANN001
    """A Job carrying the recorded spec, with input names as the golden run gave them."""
    rule = job["rule"]
    inputs = {"train_character_lora": {"references": ("r0.png", "r1.png")},
              "draw_contact_sheet": {"lora": ("lora.safetensors",)},
              "write_episode_script": {"outline": ("results/x/outline.json",)},
              "generate_clip": {"keyframe": ("kf.png",)},
              "generate_keyframe": {"loras": tuple(f"results/x/characters/{name.removeprefix('lora_')}/lora.safetensors"
                                                   for name in job.get("inputs", []))},
              "mix_episode_audio": {"dialogue": tuple(f"w{i}.wav" for i in range(len(job.get("inputs", []))))},
              }.get(rule, {})
    return Job(rule, job["wildcards"], spec, {}, inputs)


def _mutated(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + " (edited)"
    if isinstance(value, (int, float)):
        return value + 1
    if value is None:
        return 0.5
    if isinstance(value, list):
        return [*value, value[0] if value else 1]
    if isinstance(value, dict):
        return {**value, "edited": True}
    raise AssertionError(f"no mutation for {value!r}")


def _key(rule: str, job: dict, spec, runtime: Runtime) -> str:  # noqa: ANN001
    priced = RULES[rule].price(_job(job, spec), runtime)
    return call_key(priced.call, priced.provider, {str(p): "digest" for p in priced.call.inputs.values()})


@pytest.mark.parametrize("variant", ["paid", "lora", "wan"])
def test_every_spec_field_reaches_the_cache_key_unless_it_is_named_operational(variant, tmp_path):
    data = GOLDEN[variant]
    cfg = load_config(data["overrides"])
    runtime = Runtime.from_config(cfg, tmp_path / "results/x", tmp_path / "cache")
    seen = set()
    for job in data["jobs"]:
        if "request" not in job or job["rule"] in seen:
            continue
        seen.add(job["rule"])
        spec = rebuilt(data, job, cfg)
        base = _key(job["rule"], job, spec, runtime)
        for field in dataclasses.fields(spec):
            value = getattr(spec, field.name)
            if field.name == spec.PROVIDER_GROUP:  # the provider's result fields: a model change is a new answer
                changed = dataclasses.replace(spec, **{field.name: {**value, "model": value["model"] + "-2"}})
            else:
                changed = dataclasses.replace(spec, **{field.name: _mutated(value)})
            moved = _key(job["rule"], job, changed, runtime) != base
            if field.name in spec.OPERATIONAL:
                assert not moved, f"{job['rule']}.{field.name} is operational but changes the cache key"
            else:
                assert moved, f"{job['rule']}.{field.name} is in the spec but not in the cache key"
    assert seen >= {"write_outline", "generate_keyframe", "generate_clip", "speak_dialogue", "mix_episode_audio"}


def test_a_clip_that_does_not_fit_the_episode_is_refused_and_never_cached(tmp_path, monkeypatch):
    """The check every generated clip passes (stages.clips.check_clip) before it is cached: a provider
    answer at the wrong size or a frame too long fails the job instead of shifting the episode."""
    from PIL import Image

    from shortdrama.errors import MediaError
    from shortdrama.stages.clips import ClipSpec, check_clip, generate_clip
    from shortdrama.video.animatic import AnimaticVideo
    from shortdrama.video.base import ClipRequest, Encoding

    enc = {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}
    spec = ClipSpec(prompt="p", seed=1, camera="static", duration=2.0, video={"provider": "animatic"}, encoding=enc)
    Image.new("RGB", (144, 256), (40, 60, 90)).save(tmp_path / "kf.png")

    def clip(name, duration=2.0, **encoding):
        out = tmp_path / name
        AnimaticVideo().generate(ClipRequest(tmp_path / "kf.png", "static", duration,
                                             Encoding.from_spec({**enc, **encoding})), out)
        return out

    check_clip(spec, clip("good.mp4"))
    with pytest.raises(MediaError, match=r"144x256|not 144x256"):
        check_clip(spec, clip("wide.mp4", width=256, height=456))
    with pytest.raises(MediaError, match=r"2\.083 s long, not 2\.000 s"):
        check_clip(spec, clip("long.mp4", duration=2 + 1 / 12))

    # Through the real step: the animatic provider answers a clip one frame long: refused, not cached.
    cfg = load_config(["render=480p", f"cache.dir={tmp_path / 'cache'}"])
    runtime = Runtime.from_config(cfg, tmp_path / "results/x", tmp_path / "cache")
    import shortdrama.video.animatic as animatic

    real = animatic.AnimaticVideo.generate

    def one_frame_long(self, request, out):  # noqa: ANN001
        return real(self, dataclasses.replace(request, duration=request.duration + 1 / request.encoding.fps), out)

    bad = ClipSpec(prompt="p", seed=1, camera="static", duration=2.0, video=cfg.video.result_fields(),
                   encoding={"width": 480, "height": 854, "fps": 24, "crf": 30, "preset": "ultrafast"})
    monkeypatch.setattr(animatic.AnimaticVideo, "generate", one_frame_long)
    with pytest.raises(MediaError, match="does not fit the episode"):
        generate_clip(bad.to_json(), tmp_path / "kf.png", tmp_path / "clip.mp4", 1, 1, runtime=runtime)
    assert not (tmp_path / "clip.mp4").exists()
    assert runtime.cache.stats().entries == 0, "a refused answer is never stored"
