"""End to end: a tiny series built by the real Snakemake and CLI, checked by probing the final MP4s."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builds import REPO, TINY, qc_flags, run_snakemake, tiny_config
from shortdrama.media import probe, read_subtitles

pytestmark = pytest.mark.slow


def _audio(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().mean(axis=0) for frame in container.decode(stream)]
        return np.concatenate(chunks), stream.rate


def _rms_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-9)


@pytest.fixture(scope="module", params=["en", "zh"])
def built(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"e2e_{request.param}")
    series = "demo" if request.param == "en" else "demo_zh"
    run_snakemake(work, f"series={series}", *tiny_config("series.scenes_per_episode.max=3"))
    return work / "results" / series


def test_final_episode_streams_duration_and_dialogue(built):
    script = json.loads((built / "ep01" / "script.json").read_text())
    final = built / "episode_01_final.mp4"
    info = probe(final)
    video, audio, subtitle = info.first("video"), info.first("audio"), info.first("subtitle")
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 480, 854, 24.0)
    assert audio.codec == "aac" and audio.sample_rate == 48000
    assert subtitle is not None and subtitle.codec == "mov_text"
    expected = sum(scene["duration"] for scene in script["scenes"])
    assert abs(info.duration - expected) <= 0.25

    lines = [line["text"] for scene in script["scenes"] for line in scene["dialogue"]]
    cues = read_subtitles(final)
    assert [text for _, _, text in cues] == lines

    samples, rate = _audio(final)
    assert abs(len(samples) / rate - expected) <= 0.25
    inside = np.zeros(len(samples), dtype=bool)
    for start, end, _ in cues:
        inside[int(start * rate):int(end * rate)] = True
    music_only = _rms_db(samples[~inside])
    for start, end, _ in cues:
        speech = samples[int(start * rate):int(end * rate)]
        assert _rms_db(speech) > music_only + 6, "a dialogue line is not audible over the ducked music"
    assert music_only > -60, "the music bed is missing"
    assert faststart(final)


def faststart(path: Path) -> bool:
    """True when the `moov` box comes before `mdat` at the top level of the MP4."""
    import struct

    order, data, offset = [], path.read_bytes(), 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        order.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return "moov" in order and "mdat" in order and order.index("moov") < order.index("mdat")


def test_clean_offline_output_passes_every_qc_check(built):
    """The offline providers (animatic, eSpeak, synth music) in English and Chinese: no false alarm."""
    assert qc_flags(built) == []
    for report in built.glob("episode_*.qc.json"):
        data = json.loads(report.read_text())
        assert data["passed"] and data["cues"] > 0 and data["measurements"]["integrated_lufs"] == pytest.approx(-16, abs=1)


def test_documents_and_provenance_are_written(built):
    config = built / "config.yaml"
    assert config.exists() and "series:" in config.read_text()
    outline = json.loads((built / "outline.json").read_text())
    assert outline["episodes"][0]["hook"] and outline["episodes"][0]["cliffhanger"]
    assert list((built / "ep01" / "keyframes").glob("sc*.png"))
    assert (built / "episode_01.srt").read_text().strip()


def test_lint_reports_nothing_that_matters(tmp_path):
    """The one lint left asks for a conda env or container per rule: the project's own virtual
    environment (README) pins every tool, FFmpeg and eSpeak NG included, so it does not apply."""
    proc = run_snakemake(tmp_path, extra=("--lint",), check=False)
    lints = re.findall(r"^\s+\* (.+?):?$", proc.stdout + proc.stderr, flags=re.M)
    assert lints, "lint printed nothing: did it run?"
    assert set(lints) == {"Specify a conda environment or container for each rule."}, lints


def test_cli_build_dry_run_and_one_line_errors(tmp_path):
    cli = str(Path(sys.executable).with_name("shortdrama"))
    ok = subprocess.run([cli, "build", "--dry-run", "-d", str(tmp_path), "video=still", "series.episodes=3"],
                        capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert "results/demo/episode_03_final.mp4" in ok.stdout + ok.stderr
    bad = subprocess.run([cli, "build", "-d", str(tmp_path), "video=foo"], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "shortdrama: error: video=foo: unknown video option; choose one of: animatic, fake_paid, gateway_kling, gateway_pika, gateway_runway, kling, minimax, pika_fal, replicate, runway, seedance, still, wan21_i2v, wan22_ti2v"
    assert not (tmp_path / "results").exists()


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SHORTDRAMA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([str(Path(sys.executable).with_name("shortdrama")), *args], capture_output=True, text=True,
                          cwd=REPO, env=env)


def test_cli_build_shows_each_finished_job_with_time_and_dollars(tmp_path):
    work = tmp_path / "work"
    proc = _cli("build", "-d", str(work), "video=fake_paid", *TINY, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = [line for line in proc.stderr.splitlines() if line.startswith("shortdrama: done ")]
    rules = {line.split()[2] for line in done}
    assert rules == {"record_config", "write_outline", "write_episode_script", "generate_keyframe", "generate_clip",
                     "choose_take", "speak_dialogue", "mix_episode_audio", "write_subtitles", "render_episode",
                     "check_episode", "write_timeline"}
    clips = sorted(line for line in done if line.split()[2] == "generate_clip")
    assert [re.fullmatch(r"shortdrama: done generate_clip ep01 sc0[12] take01 in \d+\.\d s, \$0\.25", line) is not None
            for line in clips] == [True, True], clips  # fake_paid: a 2-3 s clip bills 5 s at $0.05
    assert any(re.fullmatch(r"shortdrama: done render_episode ep01 in \d+\.\d s", line) for line in done)
    assert re.search(r"^\d+ of \d+ steps \(100%\) done$", proc.stderr, flags=re.M), "Snakemake's own progress"
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].strip() == str(work / "results/demo/episode_01_final.mp4")
    assert re.fullmatch(r"built in \d+\.\d s; spent \$0\.50 on \d+ provider call\(s\), 0 answered by the cache "
                        rf"\(ledger: {re.escape(str(work / 'results/demo/ledger.jsonl'))}\)", lines[-1]), lines[-1]


def test_cli_build_that_fails_returns_snakemakes_exit_code_1(tmp_path):
    work = tmp_path / "work"
    proc = _cli("build", "-d", str(work), "video=fake_paid", "budget.series_usd=0.2", *TINY, cache=tmp_path / "cache")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "budget: series cap $0.20 reached" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"shortdrama: the build failed \(Snakemake exit code 1\) after \d+\.\d s; spent \$0\.00 on "
                        rf"\d+ provider call\(s\), 0 answered by the cache \(ledger: .*\); the lines above and "
                        rf"{re.escape(str(work / 'logs'))} say why", last), last
