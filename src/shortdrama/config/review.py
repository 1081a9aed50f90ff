"""The `review` settings: where a series' decisions file is (shortdrama.review.decisions)."""

from __future__ import annotations

from pydantic import Field

from .models import StrictModel


class ReviewConfig(StrictModel):
    decisions: str | None = Field(default=None, pattern=r"^[^\x00]+\.ya?ml$",
                                  description="the decisions file (relative: to the checkout); "
                                              "null: review/<series>.yaml")
