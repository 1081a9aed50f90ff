"""Automated QC's cost against the encodes it checks, measured in the same run on the same files.

Builds a one-episode offline demo (720p, the animatic), then, for every scene, times (interleaved,
--repeats rounds, medians):
- the clip's own encode: the animatic rendering that scene's take again (what generate_clip does);
- the take's QC: one analysis pass (blackdetect, freezedetect, scdet, blurdetect, ssim against the
  keyframe; qc.analysis) and the judging, with no measurement cache;
and, for the episode, render_episode's library call against check_episode's (fresh measurements:
ebur128/silencedetect/astats on the final and every voice, the soft subtitle track, text widths).
Reported per clip-second and as QC / encode ratios; goal: QC under 20% of the render time.

    .venv/bin/python bench/qc_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, write_figure

SERIES = ["series.episodes=1"]


def build(work: Path) -> None:
    env = {**os.environ, "SHORTDRAMA_CACHE_DIR": str(work / "cache")}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", "2",
           "--config", f"overrides={json.dumps(SERIES)}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-4000:])


def timed(action) -> float:  # noqa: ANN001
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from shortdrama.config import load_config
    from shortdrama.qc.analysis import analyse_video
    from shortdrama.qc.measurements import VIDEO_SETTINGS, as_data
    from shortdrama.qc.selection import expectation
    from shortdrama.qc.take_checks import judge_take
    from shortdrama.render import EpisodeRender, render_episode
    from shortdrama.stages.qc import EpisodeQCSpec
    from shortdrama.stages.render import RenderSpec
    from shortdrama.stages.takes import ChooseTakeSpec
    from shortdrama.qc.episode import check_episode
    from shortdrama.video.animatic import AnimaticVideo
    from shortdrama.video.base import ClipRequest, Encoding
    from shortdrama.workflow import Workflow

    cfg = load_config(SERIES)
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-qc-") as tmp:
        work = Path(tmp)
        build(work)
        wf = Workflow(cfg, SERIES, workdir=work)
        script_path = wf.paths.script("01")
        script = wf.script(script_path)
        scenes = wf.scene_ids(script_path)
        rows = []
        for sc in scenes:
            scene = wf.scene(script_path, sc)
            spec = ChooseTakeSpec.of(cfg, scene)
            take, keyframe = work / wf.paths.take("01", sc, 1), work / wf.paths.keyframe("01", sc)
            request = ClipRequest(keyframe, spec.clip["camera"], spec.clip["duration"],
                                  Encoding.from_spec(spec.clip["encoding"]))
            encode, qc = [], []
            for _ in range(args.repeats):
                out = work / f"again-{sc}.mp4"
                encode.append(timed(lambda: AnimaticVideo(cfg.video.motion, cfg.video.strength).generate(request, out)))
                qc.append(timed(lambda: judge_take(as_data(analyse_video(take, keyframe=keyframe, **VIDEO_SETTINGS)),
                                                   expectation(spec), spec.limits.take)))
            rows.append({"scene": sc, "camera": scene.camera, "seconds": spec.clip["duration"],
                         "encode_s": statistics.median(encode), "qc_s": statistics.median(qc)})
        clip_seconds = sum(r["seconds"] for r in rows)
        encode_total, qc_total = sum(r["encode_s"] for r in rows), sum(r["qc_s"] for r in rows)

        render_spec, qc_spec = RenderSpec.of(cfg, script), EpisodeQCSpec.of(cfg, script)
        p = wf.paths
        clips = [work / p.clip("01", sc) for sc in scenes]
        job = EpisodeRender.from_spec(json.loads(render_spec.to_json()), clips, work / p.mix("01"), work / p.subtitles("01"))
        renders, checks = [], []
        for _ in range(args.repeats):
            renders.append(timed(lambda: render_episode(job, work / "again_final.mp4")))
            checks.append(timed(lambda: check_episode(
                qc_spec, work / p.final("01"), work / p.subtitles("01"), [work / p.dialogue("01", sc) for sc in scenes],
                [work / p.cues("01", sc) for sc in scenes], [work / p.selection("01", sc) for sc in scenes],
                work / "again_qc.json", 1, None)))
        render_s, check_s = statistics.median(renders), statistics.median(checks)

    figures = {
        "what": "QC against the encodes it checks: each take's analysis + judging vs the animatic encoding that "
                "take; the episode check vs render_episode (library calls, medians of interleaved repeats)",
        "resolution": cfg.render.resolution, "repeats": args.repeats, "clips": rows,
        "clip_seconds": round(clip_seconds, 3),
        "take_qc_s_per_clip_second": round(qc_total / clip_seconds, 4),
        "encode_s_per_clip_second": round(encode_total / clip_seconds, 4),
        "take_qc_over_encode": round(qc_total / encode_total, 3),
        "episode_check_s": round(check_s, 3), "render_s": round(render_s, 3),
        "episode_check_over_render": round(check_s / render_s, 3),
        "qc_over_render_and_encodes": round((qc_total + check_s) / (encode_total + render_s), 3),
    }
    path = write_figure("qc_cost", figures)
    print(json.dumps({k: v for k, v in figures.items() if k != "clips"}, indent=1))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
