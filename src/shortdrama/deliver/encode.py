"""One episode encoded for a platform: the scenes' pictures scaled to the platform's frame, the burned
captions raised above its bottom interface, the mix brought to its loudness target (FFmpeg's loudnorm in
two passes: measure, then a linear gain with the measured values, so speech keeps its dynamics), the
video's peak rate held under the platform's cap and under what its file-size cap allows for this length.

The encode starts from the pictures the render read (never the final, whose captions are burned where
the render put them) and from the same mix and subtitles.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import MediaError
from ..media import atomic_output, ffconcat_listing, run_ffmpeg

# The episode's ASS lays captions out in a 288-line script (PlayResY, as FFmpeg's SRT conversion did):
# margins are in those lines.
SCRIPT_LINES = 288
# The share of the file-size cap the streams may fill (the MP4's own boxes and the encoder's overshoot).
SIZE_HEADROOM = 0.92
# loudnorm aims this far under the platform's true-peak limit: AAC encoding lifts peaks a little.
PEAK_MARGIN_DB = 0.5


@dataclass(frozen=True)
class DeliveryEncode:
    width: int
    height: int
    fps: int
    crf: int
    preset: str
    video_kbps: int  # the peak rate the encode may reach (maxrate)
    audio_kbps: int
    loudness_lufs: float
    true_peak_dbtp: float
    caption_margin: int  # MarginV in script lines: the captions' bottom above the platform's interface
    faststart: bool


def peak_rate(max_video_kbps: int, audio_kbps: int, max_bytes: int | None, duration: float) -> int:
    """The video's peak rate: the platform's cap, lowered so an episode of `duration` fits its file-size cap."""
    if max_bytes is None or duration <= 0:
        return max_video_kbps
    fits = SIZE_HEADROOM * max_bytes * 8 / 1000 / duration - audio_kbps
    if fits < 300:
        raise MediaError(f"a {duration:.0f} s episode cannot fit {max_bytes / 1e6:.0f} MB at a watchable rate "
                         f"({fits:.0f} kb/s of video): shorten the episode or choose another platform")
    return int(min(max_video_kbps, fits))


def caption_margin(bottom_ui: float, style_margin: int) -> int:
    """MarginV for the burn-in: the configured one, raised where the platform's bottom band would cover it."""
    return max(int(style_margin), math.ceil(bottom_ui * SCRIPT_LINES) + 6)


def measure_loudness(audio: Path, target: float, true_peak: float) -> dict[str, str]:
    """loudnorm's first pass over the mix (the mix stage's own measurement); a silent mix is one line."""
    from ..audio.mix import measure_loudness as measure

    measured = {key: str(value) for key, value in measure(["-i", str(audio)], target, true_peak).items()}
    try:
        loud = float(measured["input_i"])
    except (KeyError, ValueError):
        loud = -math.inf
    if not math.isfinite(loud) or loud < -69.0:
        raise MediaError(f"{Path(audio).name}: the mix is silent, nothing to bring to {target} LUFS: deliver an "
                         "episode with dialogue or music")
    return measured


def raised_ass(ass_text: str, margin: int) -> str:
    """The episode's styled ASS with every style's MarginV at least `margin` (bottom- and top-aligned
    captions alike clear the platform's bands; the rest of the style is the configured one)."""
    import pysubs2

    subs = pysubs2.SSAFile.from_string(ass_text, format_="ass")
    for style in subs.styles.values():
        style.marginv = max(int(style.marginv), margin)
    return subs.to_string("ass")


def encode_delivery(videos: Sequence[Path], mix: Path, subtitles: Path, ass: Path, duration: float, title: str,
                    language: str, burn: bool, soft: bool, enc: DeliveryEncode, out: Path) -> None:
    from ..render import SUBTITLE_LANGUAGE, burn_fonts

    measured = measure_loudness(mix, enc.loudness_lufs, enc.true_peak_dbtp - PEAK_MARGIN_DB)
    with tempfile.TemporaryDirectory(prefix="shortdrama-deliver-") as folder:
        work = Path(folder)
        listing = work / "scenes.ffconcat"
        listing.write_text(ffconcat_listing(videos))
        # The subtitle files and fonts are read from the working directory: no user path enters the filtergraph.
        shutil.copyfile(subtitles, work / "episode.srt")
        cues = (work / "episode.srt").read_text(encoding="utf-8").strip() != ""
        w, h = enc.width, enc.height
        picture = (f"[0:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
                   f"setsar=1,fps={enc.fps}")
        if burn and cues:
            burned = raised_ass(Path(ass).read_text(encoding="utf-8"), enc.caption_margin)
            (work / "burn.ass").write_text(burned, encoding="utf-8")
            burn_fonts(burned, work / "fonts")
            picture += ",ass=burn.ass:fontsdir=fonts"
        sound = (f"[1:a]loudnorm=I={enc.loudness_lufs}:TP={enc.true_peak_dbtp - PEAK_MARGIN_DB}:LRA=11:"
                 f"measured_I={measured['input_i']}:measured_TP={measured['input_tp']}:"
                 f"measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}:"
                 f"offset={measured['target_offset']}:linear=true,aresample=48000")
        args = ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(Path(mix).resolve())]
        if soft and cues:
            args += ["-i", "episode.srt"]
        args += ["-filter_complex", f"{picture}[v];{sound}[a]", "-map", "[v]", "-map", "[a]"]
        if soft and cues:
            args += ["-map", "2:s:0", "-c:s", "mov_text", "-metadata:s:s:0",
                     f"language={SUBTITLE_LANGUAGE.get(language, 'und')}"]
        args += ["-c:v", "libx264", "-preset", enc.preset, "-crf", str(enc.crf), "-maxrate", f"{enc.video_kbps}k",
                 "-bufsize", f"{enc.video_kbps * 2}k", "-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(enc.fps),
                 "-g", str(enc.fps * 2), "-c:a", "aac", "-b:a", f"{enc.audio_kbps}k", "-ar", "48000", "-ac", "2",
                 "-t", f"{duration:.3f}", "-metadata", f"title={title}"]
        if enc.faststart:
            args += ["-movflags", "+faststart"]
        with atomic_output(out) as tmp:
            run_ffmpeg([*args, str(tmp.resolve())], cwd=work)
