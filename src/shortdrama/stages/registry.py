"""Every rule of the workflow, by name, from the stage modules (in the order their stages run).

rules/common.smk takes each rule's params spec and dynamic inputs from here, workflow.py lists the
jobs of a series from here (targets, provenance checks), and plan.py prices them from here: adding a
rule is its .smk, its stage module (the spec, a Rule, the step) and its script adapter.
"""

from __future__ import annotations

from . import audio, characters, clips, cut, deliver, keyframes, lipsync, qc, render, takes, timeline, writing
from .base import Job, Priced, Rule

STAGES = (writing, characters, keyframes, clips, takes, audio, lipsync, cut, render, qc, timeline, deliver)
RULES: dict[str, Rule] = {rule.name: rule for stage in STAGES for rule in stage.RULES}


def rule(name: str) -> Rule:
    try:
        return RULES[name]
    except KeyError:
        raise KeyError(f"no rule {name!r} in shortdrama.stages (known: {', '.join(RULES)})") from None


__all__ = ["RULES", "STAGES", "Job", "Priced", "Rule", "rule"]
