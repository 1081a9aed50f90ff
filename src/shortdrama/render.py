"""The final episode: clips concatenated, the mixed audio as AAC, subtitles as a soft mov_text track
and optionally burned in with libass, H.264 + AAC in an MP4 with +faststart."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .config import SubtitleConfig
from .errors import MediaError, SchemaError
from .fonts import font_dir, font_family
from .media import atomic_output, run_ffmpeg
from .schemas import TITLE_MAX_LENGTH, text_problem
from .video.base import Encoding, frame_count, x264_args

# ISO 639-2 codes for the subtitle track, so players label it.
SUBTITLE_LANGUAGE = {"en": "eng", "zh": "chi", "vi": "vie"}
# The burned-in style when none is given: render.subtitles' defaults (config/models.py SubtitleConfig).
DEFAULT_STYLE: Mapping[str, Any] = SubtitleConfig().model_dump(mode="json", exclude={"soft", "burn"})


def burn_style(style: Mapping[str, Any], language: str) -> str:
    """libass's force_style for the burn-in: the configured style in the series language's font."""
    return (f"FontName={font_family(language)},FontSize={style['font_size']},PrimaryColour={style['primary_colour']},"
            f"OutlineColour={style['outline_colour']},BorderStyle={style['border_style']},"
            f"Outline={style['outline']:g},Shadow={style['shadow']:g},MarginV={style['margin_v']}")


@dataclass(frozen=True)
class EpisodeRender:
    clips: tuple[Path, ...]
    audio: Path
    subtitles: Path
    encoding: Encoding
    audio_bitrate: str
    soft_subtitles: bool
    burn_subtitles: bool
    language: str
    title: str
    durations: tuple[float, ...]
    subtitle_style: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_STYLE))

    @classmethod
    def from_spec(cls, data: dict[str, Any], clips: Sequence[Path], audio: Path, subtitles: Path) -> "EpisodeRender":
        return cls(
            clips=tuple(clips), audio=audio, subtitles=subtitles, encoding=Encoding.from_spec(data["encoding"]),
            audio_bitrate=data["audio_bitrate"], soft_subtitles=data["subtitles"]["soft"],
            burn_subtitles=data["subtitles"]["burn"], language=data["language"], title=data["title"],
            durations=tuple(data["durations"]),
            subtitle_style={k: v for k, v in data["subtitles"].items() if k not in ("soft", "burn")},
        )

    @property
    def duration(self) -> float:
        """The video's length in whole frames, which is what the episode really lasts."""
        return sum(frame_count(d, self.encoding.fps) for d in self.durations) / self.encoding.fps


def _escape_filter_value(value: str) -> str:
    """Quote a value for an FFmpeg filter option (the filtergraph escaping is two levels deep)."""
    return value.replace("\\", "\\\\\\\\").replace("'", "\\\\\\'").replace(":", "\\\\:").replace(",", "\\,")


def _libass_braces(srt_text: str) -> str:
    """The SRT for the burn-in: braces escaped for libass, which would hide `{...}` as an override
    block. FFmpeg's SubRip decoder passes `\\{` through (the `{` of our cue text is followed by a
    WORD JOINER, see subtitles.py) and libass draws it as `{`. Only cue text holds braces."""
    return srt_text.replace("{", "\\{").replace("}", "\\}")


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
        concat_list.write_text("ffconcat version 1.0\n" + "".join(
            f"file '{str(Path(c).resolve()).replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'\n" for c in job.clips))
        # libass reads the SRT from the working directory: no user path ever enters the filtergraph.
        shutil.copyfile(job.subtitles, work / "episode.srt")
        srt_text = (work / "episode.srt").read_text(encoding="utf-8")
        has_cues = srt_text.strip() != ""
        (work / "burn.srt").write_text(_libass_braces(srt_text), encoding="utf-8")
        args = ["-f", "concat", "-safe", "0", "-i", str(concat_list), "-i", str(Path(job.audio).resolve())]
        if job.soft_subtitles and has_cues:
            args += ["-i", "episode.srt"]
        args += ["-map", "0:v:0", "-map", "1:a:0"]
        if job.soft_subtitles and has_cues:
            args += ["-map", "2:s:0", "-c:s", "mov_text",
                     "-metadata:s:s:0", f"language={SUBTITLE_LANGUAGE.get(job.language, 'und')}"]
        if job.burn_subtitles and has_cues:
            style = burn_style(job.subtitle_style, job.language)
            args += ["-vf", f"subtitles=burn.srt:fontsdir={_escape_filter_value(str(font_dir()))}:force_style='{style}'",
                     *x264_args(job.encoding)]
        else:
            args += ["-c:v", "copy"]
        args += ["-c:a", "aac", "-b:a", job.audio_bitrate, "-ar", "48000", "-ac", "2",
                 "-t", f"{job.duration:.3f}", "-metadata", f"title={title}", "-movflags", "+faststart"]
        with atomic_output(out_path) as tmp:
            try:
                run_ffmpeg([*args, str(tmp.resolve())], cwd=work)
            except (OSError, ValueError) as error:  # e.g. an argument subprocess refuses
                raise MediaError(f"cannot run ffmpeg to render {Path(out_path).name}: {error}") from None
