"""Who speaks with which voice, decided once per character and written down (`results/<series>/voices.json`).

A character with a voice named in its cast entry speaks with it. Every other character is cast from the
provider's catalogue by gender and age (the words of its `role` and `look`), or, for the offline voices, by
its position in the cast. Without a record that is a pure function of the config, so adding a cast member
before others would move them to other voices: the record keeps each character's first casting, and only
characters it does not hold are cast, from the voices nobody recorded holds. A build writes the record
before its first job (build_hooks.on_start); `plan` and dry runs only read it. Delete a character's entry
(or the file) to cast it again.

    {"openai_speech": {"lin": {"voice": "coral"}, "wei": {"voice": "onyx"}}, "espeak": {"lin": {"index": 0}}}
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import AppConfig, VoiceConfig
    from ..config.models import CharacterConfig

Record = dict[str, dict[str, dict[str, Any]]]  # provider -> character id -> {"voice": id} or {"index": n}

_YOUNG = re.compile(r"\b(young|youth|girl|boy|teen\w*|student|kid|child)\b|少女|少年|年轻|女孩|男孩|学生", re.I)
_OLD = re.compile(r"\b(old|older|elderly|aged|senior|grand(mother|father|ma|pa)|widow\w*|matriarch|patriarch)\b"
                  r"|奶奶|爷爷|老太|老爷|婆婆|外婆|外公|老", re.I)


def age_of(character: "CharacterConfig") -> str | None:
    """"young", "old" or None, from the words of the character's role and look."""
    words = f"{character.role} {character.look}"
    young, old = bool(_YOUNG.search(words)), bool(_OLD.search(words))
    return "young" if young and not old else "old" if old and not young else None


def _pool(voice: "VoiceConfig", character: "CharacterConfig") -> list[str]:
    gender, age = character.gender or "any", age_of(character)
    for key in ((f"{gender}_{age}",) if age and gender != "any" else ()) + (gender, "any"):
        if voice.catalogue.get(key):
            return list(voice.catalogue[key])
    return []


def catalogue_voices(voice: "VoiceConfig", cfg: "AppConfig", record: Record | None = None) -> dict[str, str]:
    """Character id -> catalogue voice, for every cast member with no voice of its own named. Recorded
    castings stand; the others take, in cast order, the next voice of their pool that no recorded
    character holds (so an empty record gives every character what the config alone gives it)."""
    recorded = (record or {}).get(voice.provider, {})
    cast: dict[str, str] = {}
    taken = {entry["voice"] for entry in recorded.values() if isinstance(entry.get("voice"), str)}
    counts: dict[tuple[str, ...], int] = {}
    for cid, character in cfg.series.cast.items():
        named = character.voice.get(voice.provider)
        if named is not None and named.id:
            continue
        if isinstance(recorded.get(cid, {}).get("voice"), str):
            cast[cid] = recorded[cid]["voice"]
            continue
        pool = _pool(voice, character)
        if not pool:
            continue  # cast_voice says so, if the character ever speaks
        free = [v for v in pool if v not in taken] or pool
        key = tuple(free)
        counts[key] = counts.get(key, 0) + 1
        # A character cloned from a sample keeps its place in the count (as before the record existed,
        # so nobody cast after it moves) but speaks in its clone.
        if named is None or not named.sample:
            cast[cid] = free[(counts[key] - 1) % len(free)]
    return cast


def cast_voice(voice: "VoiceConfig", cfg: "AppConfig", character_id: str, record: Record | None = None) -> str:
    """One character's catalogue voice (see catalogue_voices)."""
    found = catalogue_voices(voice, cfg, record).get(character_id)
    if found is None:
        character = cfg.series.cast[character_id]
        raise ConfigError(f"voice={voice.provider}: {character.name} has no voice named "
                          f"(series.cast.{character_id}.voice.{voice.provider}.id) and the preset has no "
                          f"{character.gender or 'any'} voices in its catalogue to cast from")
    return found


def offline_indices(cfg: "AppConfig", provider: str, record: Record | None = None) -> dict[str, int]:
    """Character id -> the index the offline voices (eSpeak NG variants, Piper speakers) pick a voice by:
    the recorded one, else its position in the cast when no recorded character holds it, else the next
    free index."""
    recorded = {cid: entry["index"] for cid, entry in (record or {}).get(provider, {}).items()
                if isinstance(entry.get("index"), int) and cid in cfg.series.cast}
    taken = set(recorded.values())
    indices = dict(recorded)
    for position, cid in enumerate(cfg.series.cast):
        if cid in indices:
            continue
        index = position
        while index in taken:
            index = max(taken) + 1
        indices[cid] = index
        taken.add(index)
    return indices


def casting(voice: "VoiceConfig", cfg: "AppConfig", record: Record | None = None) -> dict[str, dict[str, Any]]:
    """What the record holds for this provider after this config: every cast member's casting."""
    from ..config import VoiceConfig

    if voice.provider in VoiceConfig.HOSTED_PROVIDERS:
        return {cid: {"voice": v} for cid, v in catalogue_voices(voice, cfg, record).items()}
    return {cid: {"index": i} for cid, i in offline_indices(cfg, voice.provider, record).items()}


def read_record(path: str | Path) -> Record:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: not a readable voice casting record ({error}); fix or delete it "
                          f"(deleting it casts every character again)") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{path}: a voice casting record maps each provider to its characters; fix or delete it")
    return data


def record_casting(path: str | Path, voice: "VoiceConfig", cfg: "AppConfig") -> bool:
    """Add this config's castings to the record at `path` (other providers' and characters' entries are
    kept); True when the file changed. Under a lock, written atomically: parallel builds lose nothing."""
    from ..cost.locking import exclusive_lock
    from ..media import write_text_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path.with_name(f".{path.name}.lock")):  # hidden: not an output of the series
        record = read_record(path)
        mine = {**record.get(voice.provider, {}), **casting(voice, cfg, record)}
        if record.get(voice.provider) == mine:
            return False
        record[voice.provider] = mine
        write_text_atomic(path, json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        return True
