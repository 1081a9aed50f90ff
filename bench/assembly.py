"""Episode assembly: the render_episode job against the single hand-written FFmpeg command that does the
same work (concat the clips by the concat demuxer, burn the subtitles with libass and re-encode with
x264, add the dialogue/music mix as AAC and the subtitles as a mov_text track, faststart), on the same
inputs, in the same run. The job's time is its own process (Python start-up, library, FFmpeg, records)
as its Snakemake benchmark file measures it; FFmpeg's is the subprocess's wall time. Each is run
--repeats times; the fastest of each is compared.

    .venv/bin/python bench/assembly.py [--repeats 3] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, write_figure

SERIES = ["series.episodes=1"]


def snakemake(work: Path, extra: list[str], cores: str) -> None:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", cores,
           "--config", f"overrides={json.dumps(SERIES)}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-4000:])


def hand_written(work: Path, out: Path) -> list[str]:
    """What a person would type, with the settings the demo's render config has."""
    import imageio_ffmpeg

    from shortdrama.config import load_config
    from shortdrama.fonts import font_dir
    from shortdrama.video.base import Encoding, x264_args

    cfg = load_config(SERIES)
    episode = work / "results" / "demo"
    clips = sorted((episode / "ep01" / "clips").glob("sc*.mp4"))
    (out.parent / "clips.txt").write_text("".join(f"file '{clip}'\n" for clip in clips))
    shutil.copyfile(episode / "episode_01.srt", out.parent / "episode.srt")
    shutil.copyfile(episode / "episode_01.ass", out.parent / "episode.ass")  # the styled burn-in
    r = cfg.render
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "concat", "-safe", "0", "-i", "clips.txt", "-i", str(episode / "ep01" / "audio" / "episode_mix.wav"),
            "-i", "episode.srt", "-map", "0:v:0", "-map", "1:a:0", "-map", "2:s:0", "-c:s", "mov_text",
            "-vf", f"ass=episode.ass:fontsdir={font_dir()}",
            *x264_args(Encoding(r.width, r.height, r.fps, r.crf, r.preset)), "-c:a", "aac", "-b:a", r.audio_bitrate, "-ar", "48000", "-ac", "2",
            "-movflags", "+faststart", out.name]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-assembly-") as tmp:
        work = Path(tmp) / "work"
        snakemake(work, [], args.cores)
        final = work / "results" / "demo" / "episode_01_final.mp4"
        job_s, whole_s = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            snakemake(work, ["--forcerun", "render_episode", "--until", "render_episode"], args.cores)
            whole_s.append(time.perf_counter() - started)
            with (work / "benchmarks" / "demo" / "ep01" / "render_episode.tsv").open() as handle:
                job_s.append(float(next(csv.DictReader(handle, delimiter="\t"))["s"]))
        hand_dir = Path(tmp) / "hand"
        hand_dir.mkdir()
        command = hand_written(work, hand_dir / "episode.mp4")
        ffmpeg_s = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            subprocess.run(command, cwd=hand_dir, check=True)
            ffmpeg_s.append(time.perf_counter() - started)
        from shortdrama.media import probe

        ours, theirs = probe(final), probe(hand_dir / "episode.mp4")
        same_shape = [(s.codec, s.kind) for s in ours.streams] == [(s.codec, s.kind) for s in theirs.streams]
    ratio = round(min(job_s) / min(ffmpeg_s), 3)
    print(f"render_episode job {min(job_s):.2f} s (whole snakemake run {min(whole_s):.2f} s), "
          f"hand-written ffmpeg {min(ffmpeg_s):.2f} s: {ratio}x; same streams: {same_shape}")
    write_figure("assembly", {"benchmark": "assembly", "goal": "render job <= 1.2 x the hand-written FFmpeg command",
                              "series": SERIES, "repeats": args.repeats, "render_job_s": job_s,
                              "whole_snakemake_run_s": whole_s, "hand_written_ffmpeg_s": ffmpeg_s, "ratio": ratio,
                              "same_streams": same_shape, "command": " ".join(command[1:])})


if __name__ == "__main__":
    main()
