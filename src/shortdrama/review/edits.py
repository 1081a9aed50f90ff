"""The writes of the served review page: a producer's decisions (review/<series>.yaml) and hand edits
of one dialogue line or one action in an episode's script.json.

Every write is atomic and serialised. It takes the exclusive lock on `<file>.lock` beside the file
(shortdrama.cost.locking: a POSIX lock plus a per-path mutex, so threads of one process and other
processes, on this node or another, wait their turn), reads the file again under the lock, changes
what it was asked to change, writes a temporary sibling, fsyncs it and renames it over the file. Two
tabs (or a tab and a person's editor saving through the same functions) writing at once lose nothing;
a reader never sees half a file.

The decisions file is rewritten by PyYAML: the leading comment block (the lines before the first
entry) is kept; comments further down and the quoting style of values are not. Episodes and scenes
are written in number order, each scene's keys as take, retake, keyframe, by, at (unknown keys kept,
after them). A script keeps the writer's formatting (`json`, two-space indent, non-ASCII as is), and
an edit is validated as the build will read it back before it replaces anything.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from ..cost.locking import exclusive_lock
from ..errors import SchemaError
from ..schemas import check_script, parse_script, text_problem
from .decisions import ReviewError

APPROVED = "approved"
NOTE_MAX_LENGTH = 400  # as an action: a note reaches the take's prompt
SCENE_KEYS = ("take", "retake", "keyframe", "by", "at")


# -- atomic, locked writes --------------------------------------------------------------------------

def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def write_atomically(path: Path, text: str) -> None:
    """`text` into `path` at once: a temporary sibling, fsynced, renamed over it (and the folder
    fsynced, so the rename survives a crash). The file keeps its permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError:  # some file systems cannot fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(folder)


def _update(path: Path, change: Callable[[str | None], str | None]) -> bool:
    """Under the file's lock: `change` gets the current text (None: no file) and returns the new text,
    or None to leave the file as it is. Returns whether it was written."""
    with exclusive_lock(lock_path(path)):
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        new = change(current)
        if new is None or new == current:
            return False
        write_atomically(path, new)
        return True


# -- the decisions file -----------------------------------------------------------------------------

def _loader():  # noqa: ANN202 - a yaml.SafeLoader subclass
    """PyYAML's safe loader, but timestamps stay the text they are (`at:` is written back as read)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    return Loader


def _header(text: str) -> str:
    """The comment block the file starts with (comments and blank lines before the first entry)."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def _parse(text: str | None, path: Path) -> dict[str, Any]:
    import yaml

    if not text:
        return {}
    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ReviewError(f"{path}: not YAML ({getattr(error, 'problem', None) or error}); mend it by hand first") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) or v is None for v in data.values()):
        raise ReviewError(f"{path}: not a mapping of episodes (ep01: ...); mend it by hand first")
    return data


def _number_of(key: Any, prefix: str) -> int | None:
    match = re.fullmatch(rf"{prefix}(\d+)", str(key))
    return int(match[1]) if match else None


def _find(mapping: dict[str, Any], prefix: str, number: int, width: int) -> str:
    """The key the file already uses for this episode or scene (ep01 and ep001 are one), else a new one."""
    for key in mapping:
        if _number_of(key, prefix) == number:
            return key
    return f"{prefix}{number:0{width}d}"


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """Episodes and scenes by number (`script` first in an episode), a scene's keys in SCENE_KEYS
    order; empty entries dropped."""
    def by_number(prefix: str):  # noqa: ANN202
        return lambda item: (_number_of(item[0], prefix) is None, _number_of(item[0], prefix) or 0, str(item[0]))

    out: dict[str, Any] = {}
    for ep_key, episode in sorted(data.items(), key=by_number("ep")):
        if not isinstance(episode, dict):
            out[ep_key] = episode
            continue
        entries: dict[str, Any] = {}
        for key, value in sorted(episode.items(), key=lambda item: (item[0] != "script", *by_number("sc")(item))):
            if isinstance(value, dict):
                value = {k: value[k] for k in (*SCENE_KEYS, *(k for k in value if k not in SCENE_KEYS)) if k in value}
                if not value:
                    continue
            entries[key] = value
        if entries:
            out[ep_key] = entries
    return out


def _dump(data: dict[str, Any], header: str) -> str:
    import yaml

    body = yaml.safe_dump(_ordered(data), sort_keys=False, allow_unicode=True, default_flow_style=False,
                          width=4096) if data else ""
    return header + ("" if body.strip() in ("", "{}") else body)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decide(path: Path, episode: int, scene: int | None, change: Callable[[dict[str, Any]], None],
            by: str | None) -> bool:
    """Change one episode's (scene None) or one scene's entry of the decisions file, under its lock.
    A scene entry's `by` and `at` then say who made its latest change, and when."""
    if by is not None and (problem := text_problem(by)):
        raise ReviewError(f"by {problem}")

    def rewrite(text: str | None) -> str | None:
        data = _parse(text, path)
        ep_key = _find(data, "ep", episode, 2)
        episode_entry = data.setdefault(ep_key, None) or {}
        data[ep_key] = episode_entry
        if scene is None:
            before = dict(episode_entry)
            change(episode_entry)
            return None if episode_entry == before else _dump(data, _header(text or ""))
        sc_key = _find(episode_entry, "sc", scene, 2)
        entry = episode_entry.get(sc_key)
        if entry is not None and not isinstance(entry, dict):
            raise ReviewError(f"{path}: {ep_key} {sc_key} is not a mapping; mend it by hand first")
        entry = dict(entry or {})
        before = {k: v for k, v in entry.items() if k not in ("by", "at")}
        change(entry)
        if {k: v for k, v in entry.items() if k not in ("by", "at")} == before:
            return None  # nothing decided anew: the file (and who signed it) stays
        entry.pop("by", None)
        if by:
            entry["by"] = by
        entry["at"] = _now()
        episode_entry[sc_key] = entry if set(entry) - {"by", "at"} else {}
        return _dump(data, _header(text or ""))

    return _update(path, rewrite)


def set_pick(path: Path, episode: int, scene: int, take: int | None, by: str | None = None) -> bool:
    """Pick (and so approve) `take` of the scene; None gives the choice back to QC."""
    if take is not None and (isinstance(take, bool) or not isinstance(take, int) or take < 1):
        raise ReviewError(f"take must be a take number (1, 2, ...), not {take!r}")

    def change(entry: dict[str, Any]) -> None:
        if take is None:
            entry.pop("take", None)
        else:
            entry["take"] = take
    return _decide(path, episode, scene, change, by)


def _notes_of(entry: dict[str, Any]) -> list[str]:
    value = entry.get("retake")
    if value is None:
        return []
    return [str(note) for note in (value if isinstance(value, list) else [value])]


def _same_note(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def add_retake(path: Path, episode: int, scene: int, note: str, by: str | None = None) -> bool:
    """Ask for one more take of the scene, its prompt carrying `note`. A blank note, one that is not
    one line of plain text, or one already asked for this scene is refused."""
    note = unicodedata.normalize("NFC", note.strip()) if isinstance(note, str) else ""
    if problem := text_problem(note):
        raise ReviewError(f"a retake note {problem}")
    if len(note) > NOTE_MAX_LENGTH:
        raise ReviewError(f"a retake note is at most {NOTE_MAX_LENGTH} characters (this one has {len(note)})")

    def change(entry: dict[str, Any]) -> None:
        notes = _notes_of(entry)
        if any(_same_note(note, asked) for asked in notes):
            raise ReviewError(f"ep{episode:02d} sc{scene:02d}: the retake {note!r} is already asked for")
        notes.append(note)
        entry["retake"] = notes[0] if len(notes) == 1 else notes
    return _decide(path, episode, scene, change, by)


def clear_retakes(path: Path, episode: int, scene: int, by: str | None = None) -> bool:
    """Withdraw every retake note of the scene (the takes they bought stay in the cache)."""
    return _decide(path, episode, scene, lambda entry: entry.pop("retake", None), by)


def approve_keyframe(path: Path, episode: int, scene: int, by: str | None = None) -> bool:
    """Approve the scene's keyframe (review.gate=keyframes: its clips may then be bought)."""
    return _decide(path, episode, scene, lambda entry: entry.__setitem__("keyframe", APPROVED), by)


def approve_script(path: Path, episode: int, by: str | None = None) -> bool:
    """Approve the episode's script (review.gate=script: the episode is then built past it). The file
    has no place for who approved a script: `by` is checked, not written."""
    return _decide(path, episode, None, lambda entry: entry.__setitem__("script", APPROVED), by)


# -- hand edits of a script -------------------------------------------------------------------------

def _edit_script(path: Path, scene: int, edit: Callable[[dict[str, Any]], None], cast: Sequence[str] | None,
                 language: str | None, episode: int | None) -> bool:
    def rewrite(text: str | None) -> str | None:
        if text is None:
            raise SchemaError(f"{path}: no such script (build the episode first)")
        try:
            document = json.loads(text)
            scenes = document["scenes"]
            entry = scenes[scene - 1] if scene >= 1 else None
        except (ValueError, KeyError, IndexError, TypeError):
            entry = None
        if not isinstance(entry, dict):
            raise SchemaError(f"{path}: there is no scene {scene}")
        edit(entry)
        new = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        checked = parse_script(new, str(path))  # as the build will read it back, before anything is replaced
        if cast is not None:
            check_script(checked, cast, language=language, episode=episode)
        return new

    return _update(path, rewrite)


def _text(text: str, dialogue: bool = False) -> str:
    text = unicodedata.normalize("NFC", text.strip()) if isinstance(text, str) else ""
    if problem := text_problem(text, dialogue=dialogue):
        raise SchemaError(f"the new text {problem}")
    return text


def edit_dialogue(path: Path, scene: int, line: int, text: str, *, cast: Sequence[str] | None = None,
                  language: str | None = None, episode: int | None = None) -> bool:
    """Replace the text of dialogue line `line` (0-based) of scene `scene` (1-based) in the script at
    `path`; the speaker stays. With `cast` (and language, episode) the result is checked as the build
    checks a script. Returns whether the file changed (the same text changes nothing)."""
    text = _text(text, dialogue=True)

    def edit(entry: dict[str, Any]) -> None:
        lines = entry.get("dialogue")
        if not isinstance(lines, list) or not 0 <= line < len(lines) or not isinstance(lines[line], dict):
            raise SchemaError(f"{path}: scene {scene} has {len(lines) if isinstance(lines, list) else 0} "
                              f"dialogue line(s); there is no line {line}")
        lines[line]["text"] = text
    return _edit_script(path, scene, edit, cast, language, episode)


def edit_action(path: Path, scene: int, text: str, *, cast: Sequence[str] | None = None,
                language: str | None = None, episode: int | None = None) -> bool:
    """Replace the action of scene `scene` (1-based) in the script at `path` (see edit_dialogue)."""
    text = _text(text)
    return _edit_script(path, scene, lambda entry: entry.__setitem__("action", text), cast, language, episode)
