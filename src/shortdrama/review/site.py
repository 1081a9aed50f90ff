"""What the served review page does, apart from HTTP (shortdrama.review.server): the API's bodies,
validated at the edge, and the site that checks each request against the series (its episodes,
scenes, takes and lines), writes through shortdrama.review.edits only to an allow-list (the series'
decisions file, its episodes' script.json), serves files of results/<series>/ only, renders the page
fresh and runs one rebuild at a time."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import edits
from .rebuild import BusyError, Rebuild

if TYPE_CHECKING:
    from ..workflow import Workflow

TOKEN_HEADER = "X-Review-Token"
PAGE_PATH = "/review/"


class Refused(Exception):
    """A request answered with an error status and one line."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# -- the API's bodies (validated at the edge) -------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Episode(_Body):
    ep: int = Field(ge=1, le=999)
    by: str | None = Field(default=None, min_length=1, max_length=64)


class _Scene(_Episode):
    sc: int = Field(ge=1, le=99)


class PickBody(_Scene):
    take: int | None = Field(ge=1)  # null gives the choice back to QC


class RetakeBody(_Scene):
    note: str = Field(max_length=edits.NOTE_MAX_LENGTH)


class DialogueBody(_Scene):
    line: int = Field(ge=0, le=999)
    text: str = Field(max_length=400)


class ActionBody(_Scene):
    text: str = Field(max_length=400)


# -- the site ----------------------------------------------------------------------------------------

def build_command(wf: "Workflow", overrides: Sequence[str]) -> list[str]:
    """`shortdrama build` of this interpreter, in the page's work directory, with the page's overrides."""
    return [sys.executable, "-m", "shortdrama.cli", "build", "-d", os.path.abspath(wf.workdir), *overrides]


def _abs(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(path))


class ReviewSite:
    """One served series: its token, the files it may write and serve, its rebuild."""

    def __init__(self, wf: "Workflow", overrides: Sequence[str], command: Sequence[str] | None = None) -> None:
        from .decisions import decisions_path

        self.base, self.overrides, self.token = wf, list(overrides), secrets.token_urlsafe(32)
        self.root = _abs(wf.at(wf.paths.root))
        self.checkout = _abs(wf.checkout or Path.cwd())
        self.decisions = _abs(decisions_path(self.checkout, wf.cfg.review.decisions, wf.cfg.series.slug))
        self.scripts = {_abs(wf.at(wf.paths.script(ep))) for ep in wf.episodes}
        self.rebuild = Rebuild(command or build_command(wf, overrides), self.checkout, self.root / "review" / "rebuild.log")
        self._actions: dict[str, tuple[type[_Body] | None, Callable[[Any], tuple[int, str]]]] = {
            "pick": (PickBody, self._pick), "retake": (RetakeBody, self._retake),
            "withdraw-retakes": (_Scene, self._withdraw_retakes), "keyframe": (_Scene, self._keyframe),
            "script": (_Episode, self._script), "dialogue": (DialogueBody, self._dialogue),
            "action": (ActionBody, self._action), "rebuild": (_Body, self._rebuild)}

    def workflow(self) -> "Workflow":
        """A fresh view of the series: the scripts and decisions as they are on disk now."""
        from ..workflow import Workflow

        return Workflow(self.base.cfg, self.overrides, checkout=self.base.checkout, workdir=self.base.workdir)

    def page(self, nonce: str) -> str:
        from .page import render_page

        return render_page(self.workflow(), served=True, token=self.token, nonce=nonce)

    def writable(self, path: str | os.PathLike) -> Path:
        """`path` if the page may write it (the decisions file, an episode's script.json), else 403."""
        absolute = _abs(path)
        if absolute != self.decisions and absolute not in self.scripts:
            raise Refused(403, f"{absolute}: the review page writes only {self.decisions} and the episodes' scripts")
        if absolute.is_symlink():
            raise Refused(403, f"{absolute} is a symbolic link: the review page does not write through links")
        return absolute

    def static(self, url_path: str) -> Path:
        """The file of results/<series>/ that `url_path` names; 404 for anything else."""
        missing = Refused(404, "not found")
        try:
            text = unquote(url_path, errors="strict")
        except UnicodeDecodeError:
            raise missing from None
        parts = [part for part in text.split("/") if part]
        if "\x00" in text or "\\" in text or any(part.startswith(".") for part in parts):
            raise missing  # `.`, `..`, hidden files, temporary files and locks
        real = self.root.joinpath(*parts).resolve()
        if not real.is_relative_to(self.root.resolve()) or not real.is_file():
            raise missing
        return real

    def act(self, name: str, payload: Any) -> tuple[int, dict[str, Any]]:
        if name not in self._actions:
            raise Refused(404, f"no action {name!r} (known: {', '.join(sorted(self._actions))})")
        model, action = self._actions[name]
        try:
            body = model.model_validate(payload) if model else None
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise Refused(400, f"{where}: {first['msg']}") from None
        status, message = action(body)
        return status, {"ok": True, "message": message, **({"rebuild": self.rebuild.status()} if name == "rebuild" else {})}

    # -- the actions ----------------------------------------------------------------------------------
    def _script_of(self, wf: "Workflow", ep: int, sc: int | None = None) -> tuple[str, Any]:
        episodes = wf.cfg.series.episodes
        if ep > episodes:
            raise Refused(400, f"the series has {episodes} episode(s); there is no episode {ep}")
        ep_id = f"{ep:02d}"
        path = wf.paths.script(ep_id)
        if not wf.at(path).is_file():
            raise Refused(400, f"episode {ep} has no script yet: build it first")
        script = wf.script(path)
        if sc is not None and sc > len(script.scenes):
            raise Refused(400, f"episode {ep} has {len(script.scenes)} scene(s); there is no scene {sc}")
        return path, script

    def _pick(self, body: PickBody) -> tuple[int, str]:
        wf = self.workflow()
        self._script_of(wf, body.ep, body.sc)
        shot = f"ep{body.ep:02d} sc{body.sc:02d}"
        if body.take is not None:
            decision = wf.decisions.of(body.ep, body.sc)
            available = wf.cfg.takes + (len(decision.retakes) if decision else 0)
            if body.take > available:
                raise Refused(400, f"{shot}: take {body.take} does not exist (the scene has takes 1-{available}; "
                                   "raise `takes` or ask for a retake)")
        changed = edits.set_pick(self.writable(self.decisions), body.ep, body.sc, body.take, body.by)
        return 200, (f"{shot}: take {body.take} picked" if body.take else f"{shot}: the choice is QC's again") + (
            "" if changed else " (as it was)")

    def _retake(self, body: RetakeBody) -> tuple[int, str]:
        self._script_of(self.workflow(), body.ep, body.sc)
        edits.add_retake(self.writable(self.decisions), body.ep, body.sc, body.note, body.by)
        return 200, f"ep{body.ep:02d} sc{body.sc:02d}: a retake asked: {body.note.strip()}"

    def _withdraw_retakes(self, body: _Scene) -> tuple[int, str]:
        """The scene's retake notes withdrawn: the next build goes back to the earlier takes, at $0."""
        self._script_of(self.workflow(), body.ep, body.sc)
        changed = edits.clear_retakes(self.writable(self.decisions), body.ep, body.sc, body.by)
        return 200, f"ep{body.ep:02d} sc{body.sc:02d}: " + ("retake notes withdrawn" if changed else "no retake note to withdraw")

    def _keyframe(self, body: _Scene) -> tuple[int, str]:
        self._script_of(self.workflow(), body.ep, body.sc)
        edits.approve_keyframe(self.writable(self.decisions), body.ep, body.sc, body.by)
        return 200, f"ep{body.ep:02d} sc{body.sc:02d}: keyframe approved"

    def _script(self, body: _Episode) -> tuple[int, str]:
        self._script_of(self.workflow(), body.ep)
        edits.approve_script(self.writable(self.decisions), body.ep, body.by)
        return 200, f"ep{body.ep:02d}: script approved"

    def _edit(self, body: _Scene, edit: Callable[..., bool], *args: Any) -> tuple[int, str]:
        wf = self.workflow()
        path, _ = self._script_of(wf, body.ep, body.sc)
        cast = [c.name for c in wf.cfg.series.cast.values()]
        try:
            with self.rebuild.idle():  # no rebuild starts while the script changes
                changed = edit(self.writable(wf.at(path)), body.sc, *args, cast=cast,
                               language=wf.cfg.series.language, episode=body.ep)
        except BusyError as busy:
            raise Refused(409, str(busy)) from None
        return 200, f"{path}: {'saved' if changed else 'unchanged'}"

    def _dialogue(self, body: DialogueBody) -> tuple[int, str]:
        return self._edit(body, edits.edit_dialogue, body.line, body.text)

    def _action(self, body: ActionBody) -> tuple[int, str]:
        return self._edit(body, edits.edit_action, body.text)

    def _rebuild(self, body: _Body) -> tuple[int, str]:
        if not self.rebuild.start():
            raise Refused(409, "a rebuild is already running")
        return 202, "rebuild started"
