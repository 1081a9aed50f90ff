"""End to end in Vietnamese: the tiny demo_vi series built by the real Snakemake (one episode of two
short scenes), its final MP4 checked for Vietnamese subtitles (soft and burned in) and spoken lines."""

import json
from pathlib import Path

import numpy as np
import pytest

from builds import qc_flags, run_snakemake, tiny_config
from shortdrama.media import probe, read_subtitles
from shortdrama.subtitles import WORD_JOINER

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("e2e_vi")
    run_snakemake(work, "series=demo_vi", *tiny_config())
    return work / "results" / "demo_vi"


def _audio(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(stream)]), stream.rate


def _frame(path: Path, seconds: float) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="gray").astype(float)
    raise AssertionError(f"no frame at {seconds} s in {path.name}")


def _rms_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-9)


def test_vietnamese_final_has_the_script_lines_as_subtitles_and_speech(built):
    script = json.loads((built / "ep01" / "script.json").read_text(encoding="utf-8"))
    assert script["language"] == "vi"
    lines = [line["text"] for scene in script["scenes"] for line in scene["dialogue"]]
    assert lines and any(ch in "ăâđêôơưấầẩẫậếềểễệốồổỗộớờởỡợứừửữự" for line in lines for ch in line.lower())
    final = built / "episode_01_final.mp4"
    subtitle = probe(final).first("subtitle")
    assert subtitle.codec == "mov_text" and subtitle.language == "vie"
    cues = read_subtitles(final)
    assert [text.replace(WORD_JOINER, "") for _, _, text in cues] == lines

    samples, rate = _audio(final)
    spoken = np.zeros(len(samples), dtype=bool)
    for start, end, _ in cues:
        spoken[int(start * rate):int(end * rate)] = True
    music_only = _rms_db(samples[~spoken])
    for start, end, text in cues:
        assert _rms_db(samples[int(start * rate):int(end * rate)]) > music_only + 6, f"{text!r} is not heard"


def test_vietnamese_subtitles_are_burned_in(built):
    """During the first line, the final frame differs from the scene's clip in the subtitle band only."""
    script = json.loads((built / "ep01" / "script.json").read_text(encoding="utf-8"))
    start, end, _ = read_subtitles(built / "episode_01_final.mp4")[0]
    assert end <= script["scenes"][0]["duration"] + 1e-3, "the first line belongs to the first scene"
    moment = (start + end) / 2
    final = _frame(built / "episode_01_final.mp4", moment)
    clip = _frame(built / "ep01" / "clips" / "sc01.mp4", moment)
    height = final.shape[0]
    changed = np.abs(final - clip) > 60
    band = changed[int(height * 0.6):int(height * 0.85)]
    assert band.sum() > 300, "libass drew no subtitle text"
    assert changed[:int(height * 0.45)].sum() < 0.05 * band.sum(), "the burn-in changed more than the subtitle band"


def test_vietnamese_output_passes_every_qc_check(built):
    assert qc_flags(built) == []
