# Config resolution, target and input functions, wildcard constraints. Logic lives in shortdrama.workflow.
import os
import re
import sys
import uuid

from shortdrama.cost.call import BUILD_ID_ENV, RUNTIME_ENV
from shortdrama.errors import ShortDramaError
from shortdrama.workflow import Workflow

try:
    WF = Workflow.from_snakemake_config(config, conf_dir=os.path.join(workflow.basedir, "conf"))
    WF.check_existing_scripts()
except ShortDramaError as error:
    # One line, before any job runs; Snakemake's traceback would bury it.
    print(f"shortdrama: error: {error}", file=sys.stderr)
    sys.exit(2)

SERIES = WF.series
# Ledger, budget and cache settings reach the jobs through the environment, not params: raising a
# budget or moving the cache must not make Snakemake rerun anything.
os.environ[RUNTIME_ENV] = WF.runtime(workflow.basedir).to_json()
# One id per `snakemake` invocation, inherited by its jobs (and by cluster jobs, which parse this file
# again): a retry of a job within the same build can tell its earlier attempt from an earlier build's.
os.environ.setdefault(BUILD_ID_ENV, uuid.uuid4().hex)


wildcard_constraints:
    series=re.escape(SERIES),
    character=r"[a-z][a-z0-9_]*",
    ep=r"\d\d",
    sc=r"\d\d",


def final_targets():
    return WF.final_targets()


def script_json(wildcards):
    return checkpoints.write_episode_script.get(series=wildcards.series, ep=wildcards.ep).output.script


def scene_paths(pattern):
    """An input function listing `pattern` for every scene of the episode's script."""

    def paths(wildcards):
        return expand(pattern, series=wildcards.series, ep=wildcards.ep, sc=WF.scene_ids(script_json(wildcards)))

    return paths


def config_spec(wildcards):
    return WF.config_spec()


def outline_spec(wildcards):
    return WF.outline_spec()


def script_spec(wildcards):
    return WF.script_spec(wildcards.ep)


def keyframe_spec(wildcards):
    return WF.keyframe_spec(script_json(wildcards), wildcards.sc)


def clip_spec(wildcards):
    return WF.clip_spec(script_json(wildcards), wildcards.sc)


def dialogue_spec(wildcards):
    return WF.dialogue_spec(script_json(wildcards), wildcards.sc)


def subtitles_spec(wildcards):
    return WF.subtitles_spec(script_json(wildcards))


def mix_spec(wildcards):
    return WF.mix_spec(script_json(wildcards))


def render_spec(wildcards):
    return WF.render_spec(script_json(wildcards))


def character_references(wildcards):
    return WF.character_references(wildcards.character, workflow.basedir)


def lora_spec(wildcards):
    return WF.lora_spec(wildcards.character)


def references_spec(wildcards):
    return WF.references_spec(wildcards.character)


def contact_sheet_spec(wildcards):
    return WF.contact_sheet_spec(wildcards.character)


def contact_sheets(wildcards):
    """Sheets of the characters on screen: known once the episode scripts are written."""
    if not WF.cfg.lora.enabled:
        return []
    scripts = [checkpoints.write_episode_script.get(series=SERIES, ep=ep).output.script for ep in WF.episodes]
    return WF.contact_sheets(scripts)


def keyframe_loras(wildcards):
    return WF.keyframe_loras(script_json(wildcards), wildcards.sc)
