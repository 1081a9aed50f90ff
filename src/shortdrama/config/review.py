"""The `review` settings: where a series' decisions file is (shortdrama.review.decisions)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .models import StrictModel


class ReviewConfig(StrictModel):
    decisions: str | None = Field(default=None, pattern=r"^[^\x00]+\.ya?ml$",
                                  description="the decisions file (relative: to the checkout); "
                                              "null: review/<series>.yaml")
    gate: Literal["none", "script", "keyframes"] = Field(
        default="none", description="what must be approved in the decisions file before money is spent past it: "
                                    "script (an episode's script), keyframes (a scene's keyframe), none")
    respect_approvals: bool = Field(
        default=True, description="an approved (picked) take is kept through later config changes; false: "
                                  "approved takes are remade like any other")
    # Where `shortdrama review --serve` listens (shortdrama.review.server). Operational: excluded from the
    # dumped config, so record_config's record (and so the build) never changes with them.
    host: str = Field(default="127.0.0.1", min_length=1, exclude=True,
                      description="the served review page's address; anything but a loopback address "
                                  "needs `--host ADDR` on the command line")
    port: int = Field(default=0, ge=0, le=65535, exclude=True, description="its port; 0: a free one")
