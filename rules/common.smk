# Config resolution, target and input functions, wildcard constraints. Logic lives in shortdrama.workflow
# (which jobs a series has), shortdrama.stages (each rule's spec and inputs) and shortdrama.trust.
import os
import re
import sys
import uuid

from snakemake.exceptions import IncompleteCheckpointException, WorkflowError

from shortdrama.cost.call import BUILD_ID_ENV, RUNTIME_ENV
from shortdrama.errors import ShortDramaError
from shortdrama.paths import P
from shortdrama.report_tables import R
from shortdrama.scheduling import CPU_SLOTS_ENV
from shortdrama.stages.registry import rule as stage_rule
from shortdrama.trust import Reconciler, check_existing_documents
from shortdrama.workflow import Workflow

try:
    WF = Workflow.from_snakemake_config(config, conf_dir=os.path.join(workflow.basedir, "conf"),
                                        checkout=workflow.basedir)
    if not workflow.remote_exec:  # a cluster job parses this file again; the run that plans checks once
        check_existing_documents(WF)
        WF.check_decisions()
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
# A job that holds no core (one waiting on a hosted API) takes one of the local build's cores for its
# own CPU work (shortdrama.scheduling.cpu_slot): the `cpu` resource where the build sets one (as
# `shortdrama build` does: its --cores also makes room for the API jobs), else --cores.
def local_cores():
    """The cores a local build's compute may use; None where the build is not local (a cluster job)."""
    if not workflow.local_exec or workflow.remote_exec:
        return None
    cpu = getattr(workflow.global_resources.get("cpu"), "value", None)
    try:
        return cpu or workflow.cores
    except WorkflowError:  # no --cores: not a build of this machine's cores
        return None


LOCAL_CORES = local_cores()
if LOCAL_CORES:
    os.environ[CPU_SLOTS_ENV] = str(LOCAL_CORES)


wildcard_constraints:
    series=re.escape(SERIES),
    character=r"[a-z][a-z0-9_]*",
    ep=r"\d{2,3}",
    sc=r"\d\d",
    take=r"\d\d",
    shot=r"\d\d",
    platform=re.escape(WF.cfg.deliver.platform),


def final_targets():
    return WF.final_targets()


RECONCILER = Reconciler(WF)


def every_output(wildcards):
    """rule all also asks for every intermediate, so that one deleted (or removed by a failed job) is
    made again even while the final that used it exists. First, outputs that no longer match what they
    were made from are removed (shortdrama.trust), whatever .snakemake/metadata says. The scenes of a
    script are known once its checkpoint is done; this is evaluated again after each."""
    try:
        RECONCILER.before_planning(act=acting(), benchmark=benchmark_file, force=shown_by_dry_run)
    except ShortDramaError as error:  # one line, before any job runs (an edited script the writer would rewrite)
        print(f"shortdrama: error: {error}", file=sys.stderr)
        sys.exit(2)
    scripts, pending = [], None
    for ep in WF.episodes:
        try:
            scripts.append(checkpoints.write_episode_script.get(series=SERIES, ep=ep).output.script)
        except IncompleteCheckpointException as incomplete:
            pending = pending or incomplete
    if pending is not None:
        raise pending
    try:  # a decision naming a scene or take that does not exist: one line, before any job runs
        WF.check_decisions(scripts)
    except ShortDramaError as error:
        print(f"shortdrama: error: {error}", file=sys.stderr)
        sys.exit(2)
    return WF.every_output(scripts)


def benchmark_file(job):
    """The benchmark file of an expected job (Snakemake counts its mtime as the job's)."""
    pattern = workflow.get_rule(job.rule).benchmark
    return pattern.apply_wildcards(dict(job.wildcards)) if pattern else None


def shown_by_dry_run(outputs):
    """A dry run removes nothing; it shows the jobs a real run would run to make these again."""
    if workflow.dryrun:
        workflow.dag.forcefiles.update(outputs)


def acting():
    """A real run of this planning process: not a dry run, --touch, --summary/--dag, nor a cluster job."""
    return (workflow.executor_plugin is not None and not workflow.dryrun and not workflow.touch
            and not workflow.remote_exec and not workflow.subprocess_exec)


def script_json(wildcards):
    return checkpoints.write_episode_script.get(series=wildcards.series, ep=wildcards.ep).output.script


def _job(name, wildcards):
    """The job of rule `name` for these wildcards; episode and scene rules read the script the checkpoint wrote."""
    script = script_json(wildcards) if stage_rule(name).reads_script else None
    return WF.job(name, dict(wildcards.items()), script)


def spec_of(name):
    """params.spec of the rule `name`, its stage's spec as JSON (Snakemake reruns a job when it changes)."""
    return lambda wildcards: _job(name, wildcards).spec.to_json()


def inputs_of(name, key):
    """The input files `key` of rule `name` (the stage module lists them), e.g. a scene's LoRAs; as
    ancient() where the stage says so (an approved take's keyframe: shortdrama.review.approvals)."""
    def inputs(wildcards):
        job = _job(name, wildcards)
        paths = list(job.inputs[key])
        return [ancient(path) for path in paths] if key in job.ancient else paths

    return inputs


def input_of(name, key):
    """The one input file `key` of rule `name` (ancient() where the stage says so)."""
    def one(wildcards):
        (path,) = inputs_of(name, key)(wildcards)
        return path

    return one


# -- the report's tables (rules/report.smk) ----------------------------------------------------------

def episode_keyframes(wildcards):
    """The episode's keyframes in scene order (its script, from the checkpoint, says how many)."""
    return expand(P.keyframe, series=wildcards.series, ep=wildcards.ep, sc=WF.scene_ids(script_json(wildcards)))


def report_tables():
    """Every file `report_tables` makes for this series."""
    per_episode = expand([R.qc, R.storyboard], series=SERIES, ep=WF.open_episodes)
    return per_episode + [R.costs.format(series=SERIES)]


def kept_report_tables(wildcards):
    """The report tables, once they were made (their cost table exists): rule all keeps them current."""
    return report_tables() if os.path.exists(R.costs.format(series=SERIES)) else []
