"""Timeline (rules/timeline.smk): each episode as an OpenTimelineIO timeline, `episode_NN.otio`, made
from the files its final is made from (the videos the render reads, the mix, each scene's dialogue and
cues, the take selections, the subtitles) and the episode's QC report, plus the review notes of the
decisions file (shortdrama.timeline.build). No provider call; `shortdrama export` turns it into what
editors open (shortdrama.timeline.export).

The spec holds the episode's frame (size and rate), its scene lengths, title and review notes: a note
edited in the decisions file reruns this job, and any rerun input (a new take, a new mix) does too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig
from ..media import write_text_atomic
from ..schemas import EpisodeScript
from .audio import scene_durations
from .base import Job, Rule, Series, Spec
from .lipsync import scene_video


@dataclass(frozen=True)
class TimelineSpec(Spec):
    title: str
    durations: list
    frame: dict  # width, height, fps
    notes: dict = field(default_factory=dict)  # "sc01" -> the scene's review notes (shortdrama.review)
    # An editor's cut (shortdrama.cut): each shot's scene and in-point; empty for the full cut, whose
    # spec is then what it was before cuts existed.
    scenes: list = field(default_factory=list)
    starts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        spec = super().to_dict()
        for name in ("scenes", "starts"):
            if not spec[name]:
                del spec[name]
        return spec

    @classmethod
    def of(cls, cfg: AppConfig, script: EpisodeScript, notes: Mapping[str, Sequence[str]] | None = None) -> "TimelineSpec":
        r = cfg.render
        return cls(title=script.title, durations=scene_durations(cfg, script),
                   frame={"width": r.width, "height": r.height, "fps": r.fps},
                   notes={sc: list(lines) for sc, lines in sorted((notes or {}).items()) if lines})


def review_notes(wf: Series, ep: str, scenes: Sequence[str]) -> dict[str, list[str]]:
    """Each scene's decision as lines an editor reads: the pick, and each retake's note. Who decided and
    when stay out (re-signing a decision reruns nothing, here as in the takes)."""
    notes = {}
    for sc in scenes:
        decision = wf.decision(ep, sc)
        if decision is None:
            continue
        lines = [f"take {decision.take} picked"] if decision.take is not None else []
        lines += [f"retake {wf.cfg.takes + i} asked: {note}" for i, note in enumerate(decision.retakes, 1)]
        if lines:
            notes[f"sc{sc}"] = lines
    return notes


class WriteTimeline(Rule):
    name, scope, reads_script = "write_timeline", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        p = wf.paths
        spec = TimelineSpec.of(wf.cfg, wf.script(script), review_notes(wf, ep, wf.scene_ids(script)))
        shots = wf.episode_cut(ep, script)
        if shots is None:
            scenes = wf.scene_ids(script)
        else:  # the editor's cut, on the scenes' own clips: what an editor trims from again
            scenes = [f"{s.scene:02d}" for s in shots]
            spec = replace(spec, durations=[round(s.duration, 6) for s in shots], scenes=[s.scene for s in shots],
                           starts=[s.start for s in shots])
        return Job(self.name, {"series": wf.series, "ep": ep}, spec, {"otio": p.timeline(ep)},
                   {"clips": tuple(scene_video(wf, script, ep, sc) for sc in scenes),
                    "selections": tuple(p.selection(ep, sc) for sc in scenes),
                    "dialogue": tuple(p.dialogue(ep, sc) for sc in scenes),
                    "cues": tuple(p.cues(ep, sc) for sc in scenes),
                    "audio": (p.mix(ep) if shots is None else p.cut_mix(ep),),
                    "music": (p.music(ep) if shots is None else p.cut_music(ep),), "subtitles": (p.subtitles(ep),),
                    "qc": (p.episode_qc(ep),)})


RULES = (WriteTimeline(),)


def write_timeline(spec: str, clips: Sequence[str | Path], selections: Sequence[str | Path],
                   dialogue: Sequence[str | Path], cues: Sequence[str | Path], audio: str | Path,
                   qc: str | Path, out: str | Path, episode: int, music: str | Path | None = None) -> None:
    """The episode's .otio, its media named relative to the series folder (the output's own folder)."""
    from ..timeline.build import Cut, Shot, build_timeline, timeline_json

    made = TimelineSpec.from_json(spec)
    cut = Cut(episode=episode, title=made.title, fps=made.frame["fps"], width=made.frame["width"],
              height=made.frame["height"], durations=made.durations, notes=made.notes, scenes=made.scenes,
              starts=made.starts)
    shots = [Shot(Path(v), Path(s), Path(d), Path(c)) for v, s, d, c in zip(clips, selections, dialogue, cues, strict=True)]
    timeline = build_timeline(cut, shots, Path(audio), Path(qc), Path(out).parent, Path(music) if music else None)
    write_text_atomic(out, timeline_json(timeline))


__all__ = ["RULES", "TimelineSpec", "review_notes", "write_timeline"]
