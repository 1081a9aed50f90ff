"""Delivery (rules/deliver.smk): each episode packaged for the platform the `deliver` group names:
the encode at its frame, rate caps and loudness with the captions above its interface
(shortdrama.deliver.encode), a cover from a keyframe with the title (deliver.cover), the description
text from the outline, and a QC report of the file against the platform's limits (deliver.checks).
Off by default (`deliver=none`). The spec holds the platform's limits and what the encode reads, so
changing the platform reruns only these jobs; they call no provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig
from ..media import write_text_atomic
from ..schemas import EpisodeScript
from .audio import scene_durations
from .base import Job, Rule, Series, Spec
from .cut import episode_parts

# The preset's provenance notes: documentation of the limits, not a limit (editing them reruns nothing).
NOT_LIMITS = ("source", "checked")


@dataclass(frozen=True)
class DeliverSpec(Spec):
    deliver: dict
    durations: list
    language: str
    title: str
    subtitles: dict
    cover_scene: int

    @classmethod
    def of(cls, cfg: AppConfig, script: EpisodeScript) -> "DeliverSpec":
        limits = cfg.deliver.model_dump(mode="json", exclude=set(NOT_LIMITS))
        scene = min(cfg.deliver.cover_scene or 1, len(script.scenes))
        return cls(deliver=limits, durations=scene_durations(cfg, script), language=script.language,
                   title=script.title, subtitles=cfg.render.subtitles.model_dump(mode="json"), cover_scene=scene)

    @property
    def duration(self) -> float:
        from ..video.base import frame_count

        fps = self.deliver["fps"]
        return sum(frame_count(d, fps) for d in self.durations) / fps


class DeliverEpisode(Rule):
    name, scope, reads_script = "deliver_episode", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, platform = wildcards["ep"], wf.cfg.deliver.platform
        spec = DeliverSpec.of(wf.cfg, wf.script(script))
        p = wf.paths
        parts = episode_parts(wf, script, ep)  # the scenes, or an editor's cut's shots
        spec = replace(spec, durations=parts.durations)
        return Job(self.name, {"series": wf.series, "platform": platform, "ep": ep}, spec, p.delivery(ep, platform),
                   {"videos": parts.videos, "mix": (parts.mix,),
                    "subtitles": (p.subtitles(ep),), "ass": (p.subtitles_ass(ep),), "keyframe": (p.keyframe(ep, f"{spec.cover_scene:02d}"),),
                    "outline": (p.outline,)})

    def wanted(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> bool:
        return wf.cfg.deliver.enabled


RULES = (DeliverEpisode(),)


def deliver_episode(spec: str, videos: Sequence[str | Path], mix: str | Path, subtitles: str | Path, ass: str | Path,
                    keyframe: str | Path, outline: str | Path, episode: int, outputs: Mapping[str, str | Path]) -> None:
    """The platform package of one episode; its QC report says what passed (a flag fails nothing: it is
    for the producer, as the episode's QC is; `shortdrama qc` lists them)."""
    from ..deliver.checks import caption_rows, check_delivery
    from ..deliver.cover import description, draw_cover
    from ..deliver.encode import DeliveryEncode, caption_margin, encode_delivery, peak_rate
    from ..qc.episode import offsets
    from ..schemas import read_outline

    plan = DeliverSpec.from_json(spec)
    limits, style = plan.deliver, {k: v for k, v in plan.subtitles.items() if k not in ("soft", "burn")}
    out = {name: Path(path) for name, path in outputs.items()}
    # Captions at the top (render.subtitles.position) clear the top band, the others the bottom one.
    band = limits["top_ui"] if style.get("position") == "top" else limits["bottom_ui"]
    margin = caption_margin(band, style["margin_v"])
    enc = DeliveryEncode(width=limits["width"], height=limits["height"], fps=limits["fps"], crf=limits["crf"],
                         preset=limits["preset"], video_kbps=peak_rate(limits["max_video_kbps"], limits["audio_kbps"],
                                                                       None if limits["max_mb"] is None else
                                                                       int(limits["max_mb"] * 1_000_000), plan.duration),
                         audio_kbps=limits["audio_kbps"], loudness_lufs=limits["loudness_lufs"],
                         true_peak_dbtp=limits["true_peak_dbtp"], caption_margin=margin, faststart=limits["faststart"])
    scenes = [Path(v) for v in videos]
    encode_delivery(scenes, Path(mix), Path(subtitles), Path(ass), plan.duration, plan.title, plan.language,
                    plan.subtitles["burn"], plan.subtitles["soft"], enc, out["mp4"])
    draw_cover(Path(keyframe), plan.title, limits["cover_width"], limits["cover_height"], limits["top_ui"], out["cover"])
    story = read_outline(Path(outline))
    told = next((e for e in story.episodes if e.episode == episode), None)
    write_text_atomic(out["text"], description(story.series_title, episode, plan.title,
                                               told.hook if told else "", told.cliffhanger if told else ""))
    sources = [(path, start, start + length) for path, start, length in zip(scenes, offsets(plan.durations), plan.durations)]
    captions = caption_rows(out["mp4"], sources, _cues(Path(subtitles)), (limits["width"], limits["height"])) \
        if plan.subtitles["burn"] else None
    report = check_delivery(out["mp4"], limits, plan.duration, captions)
    report["episode"] = episode
    for flag in report["flags"]:
        flag["episode"] = episode
    write_text_atomic(out["qc"], json.dumps(report, ensure_ascii=False, indent=1) + "\n")


def _cues(srt: Path) -> list[tuple[float, float]]:
    from ..subtitles import parse_srt

    return [(cue.start, cue.end) for cue in parse_srt(srt.read_text(encoding="utf-8")) if cue.end > cue.start]
