"""The final episode: clips concatenated, the mixed audio as AAC, the SRT as a soft mov_text track
and the styled ASS (subtitles.format_ass) optionally burned in with libass, H.264 + AAC in an MP4 with
+faststart."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import MediaError, SchemaError
from .fonts import font_file, font_path
from .media import atomic_output, ffconcat_listing, run_ffmpeg
from .schemas import TITLE_MAX_LENGTH, text_problem
from .video.base import Encoding, frame_count, x264_args

# ISO 639-2 codes for the subtitle track, so players label it.
SUBTITLE_LANGUAGE = {"en": "eng", "zh": "chi", "vi": "vie"}


@dataclass(frozen=True)
class EpisodeRender:
    clips: tuple[Path, ...]
    audio: Path
    subtitles: Path  # the SRT: the soft track
    encoding: Encoding
    audio_bitrate: str
    soft_subtitles: bool
    burn_subtitles: bool
    language: str
    title: str
    durations: tuple[float, ...]
    ass: Path | None = None  # the styled ASS (write_subtitles): what the burn-in draws

    @classmethod
    def from_spec(cls, data: dict[str, Any], clips: Sequence[Path], audio: Path, subtitles: Path,
                  ass: Path | None) -> "EpisodeRender":
        return cls(
            clips=tuple(clips), audio=audio, subtitles=subtitles, ass=ass, encoding=Encoding.from_spec(data["encoding"]),
            audio_bitrate=data["audio_bitrate"], soft_subtitles=data["subtitles"]["soft"],
            burn_subtitles=data["subtitles"]["burn"], language=data["language"], title=data["title"],
            durations=tuple(data["durations"]),
        )

    @property
    def duration(self) -> float:
        """The video's length in whole frames, which is what the episode really lasts."""
        return sum(frame_count(d, self.encoding.fps) for d in self.durations) / self.encoding.fps


def burn_fonts(ass_text: str, fonts: Path) -> None:
    """The folder libass gets as fontsdir: the bundled face and the file of the font the ASS style
    names (fonts.font_file: a family fontconfig does not know is one clear error, not a blank burn)."""
    import pysubs2

    fonts.mkdir()
    styles = pysubs2.SSAFile.from_string(ass_text, format_="ass").styles.values()
    files = {font_path()} | {font_file(style.fontname) for style in styles}
    for index, file in enumerate(sorted(files)):
        (fonts / f"{index}{file.suffix}").symlink_to(file)


def _metadata_title(title: str) -> str:
    """The title as FFmpeg's `title` metadata: one plain line (the schema refuses anything else at
    the edge; a spec written some other way must still fail in one line, not in subprocess)."""
    problem = text_problem(title) or (f"is longer than {TITLE_MAX_LENGTH} characters"
                                      if len(title) > TITLE_MAX_LENGTH else None)
    if problem:
        raise SchemaError(f"the episode title {title[:80]!r} cannot be the video's title metadata: it {problem}")
    return title


def render_episode(job: EpisodeRender, out_path: Path) -> None:
    if len(job.clips) != len(job.durations):
        raise MediaError(f"{len(job.clips)} clips for {len(job.durations)} scenes")
    title = _metadata_title(job.title)
    with tempfile.TemporaryDirectory(prefix="shortdrama-render-") as workdir:
        work = Path(workdir)
        concat_list = work / "clips.ffconcat"
        concat_list.write_text(ffconcat_listing(job.clips))
        # The subtitle files and fonts are read from the working directory: no user path ever enters
        # the filtergraph.
        shutil.copyfile(job.subtitles, work / "episode.srt")
        has_cues = (work / "episode.srt").read_text(encoding="utf-8").strip() != ""
        burn = job.burn_subtitles and has_cues
        if burn:
            if job.ass is None:
                raise MediaError("the burn-in needs the episode's ASS file (write_subtitles' output)")
            shutil.copyfile(job.ass, work / "burn.ass")
            burn_fonts((work / "burn.ass").read_text(encoding="utf-8"), work / "fonts")
        args = ["-f", "concat", "-safe", "0", "-i", str(concat_list), "-i", str(Path(job.audio).resolve())]
        if job.soft_subtitles and has_cues:
            args += ["-i", "episode.srt"]
        args += ["-map", "0:v:0", "-map", "1:a:0"]
        if job.soft_subtitles and has_cues:
            args += ["-map", "2:s:0", "-c:s", "mov_text",
                     "-metadata:s:s:0", f"language={SUBTITLE_LANGUAGE.get(job.language, 'und')}"]
        if burn:
            args += ["-vf", "ass=burn.ass:fontsdir=fonts", *x264_args(job.encoding)]
        else:
            args += ["-c:v", "copy"]
        args += ["-c:a", "aac", "-b:a", job.audio_bitrate, "-ar", "48000", "-ac", "2",
                 "-t", f"{job.duration:.3f}", "-metadata", f"title={title}", "-movflags", "+faststart"]
        with atomic_output(out_path) as tmp:
            try:
                run_ffmpeg([*args, str(tmp.resolve())], cwd=work)
            except (OSError, ValueError) as error:  # e.g. an argument subprocess refuses
                raise MediaError(f"cannot run ffmpeg to render {Path(out_path).name}: {error}") from None
