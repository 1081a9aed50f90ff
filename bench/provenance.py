"""What checking every output against its manifest costs, as a ratio of what Snakemake itself pays
to look at the same files (one stat each), measured in the same run.

A synthetic series (episodes of scenes, each with a keyframe, a clip, a voice and its cues, and per
episode a mix, subtitles and a final, as the build makes them) is written with its manifests; then

- `stat`: os.stat of every output (the floor: Snakemake stats them all to plan),
- `check`: provenance.check over every job, trusting size and mtime (what every build does before
  Snakemake plans, and after a whole build),
- `check --rehash`: the same, hashing every file (`shortdrama verify --rehash`).

    .venv/bin/python bench/provenance.py [--episodes 24] [--scenes 15] [--clip-kb 512]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shortdrama.provenance import ExpectedJob, ManifestStore, check  # noqa: E402


def make_series(root: Path, episodes: int, scenes: int, clip_kb: int) -> list[ExpectedJob]:
    store = ManifestStore(root)
    jobs: list[ExpectedJob] = []

    def run(job: ExpectedJob, sizes: list[int]) -> None:
        record = store.begin(job.rule, job.spec, list(job.inputs), list(job.outputs))
        for output, size in zip(job.outputs, sizes):
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            Path(output).write_bytes(os.urandom(size))
        store.finish(record, list(job.outputs))
        jobs.append(job)

    for ep in range(1, episodes + 1):
        folder = f"{root}/ep{ep:02d}"
        for sc in range(1, scenes + 1):
            keyframe, clip = f"{folder}/keyframes/sc{sc:02d}.png", f"{folder}/clips/sc{sc:02d}.mp4"
            wav, cues = f"{folder}/audio/sc{sc:02d}.wav", f"{folder}/audio/sc{sc:02d}.cues.json"
            spec = f'{{"scene": {sc}, "episode": {ep}, "action": "{"x" * 300}"}}'
            run(ExpectedJob("generate_keyframe", (keyframe,), spec), [clip_kb * 200])
            run(ExpectedJob("generate_clip", (clip,), spec, (keyframe,)), [clip_kb * 1024])
            run(ExpectedJob("speak_dialogue", (wav, cues), spec), [clip_kb * 600, 800])
        sc_ids = range(1, scenes + 1)
        wavs = tuple(f"{folder}/audio/sc{sc:02d}.wav" for sc in sc_ids)
        run(ExpectedJob("mix_episode_audio", (f"{folder}/audio/episode_mix.wav",), "{}", wavs), [clip_kb * 600 * scenes])
        run(ExpectedJob("write_subtitles", (f"{root}/episode_{ep:02d}.srt",), "{}",
                        tuple(f"{folder}/audio/sc{sc:02d}.cues.json" for sc in sc_ids)), [2000])
        clips = tuple(f"{folder}/clips/sc{sc:02d}.mp4" for sc in sc_ids)
        run(ExpectedJob("render_episode", (f"{root}/episode_{ep:02d}_final.mp4",), "{}",
                        (*clips, f"{folder}/audio/episode_mix.wav", f"{root}/episode_{ep:02d}.srt")),
            [clip_kb * 1024 * scenes])
    return jobs


def timed(function, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--scenes", type=int, default=15)
    parser.add_argument("--clip-kb", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-provenance-") as tmp:
        os.chdir(tmp)
        root = Path("results/bench")
        jobs = make_series(root, args.episodes, args.scenes, args.clip_kb)
        store = ManifestStore(root)
        outputs = [output for job in jobs for output in job.outputs]
        size_mb = sum(os.stat(output).st_size for output in outputs) / 1e6
        floor = timed(lambda: [os.stat(output) for output in outputs])
        fast = timed(lambda: check(jobs, store))
        rehash = timed(lambda: check(jobs, store, trust_stat=False))
        assert check(jobs, store) == {}, "a consistent series has no findings"
    print(f"{args.episodes} episodes x {args.scenes} scenes: {len(jobs)} jobs, {len(outputs)} outputs, {size_mb:.0f} MB"
          f"  (ratios against one stat per output, this run)")
    print(f"{'case':24} {'seconds':>8} {'per output':>11} {'ratio':>8}")
    for name, seconds in (("stat", floor), ("check", fast), ("check --rehash", rehash)):
        print(f"{name:24} {seconds:8.3f} {seconds / len(outputs) * 1e6:9.0f}us {seconds / floor:8.1f}")


if __name__ == "__main__":
    main()
