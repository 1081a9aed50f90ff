# shortdrama: theme + cast -> outline -> scripts -> keyframes, clips, voices -> episodes.
# Options are Hydra overrides passed as --config pairs (see README): --config video=still render=1080p
from snakemake.utils import min_version

min_version("9.0")


# `snakemake --report results/<series>/report.zip` after a build: finals, storyboard, QC and costs (docs/report.md)
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/hooks.smk"
include: "rules/script.smk"
include: "rules/characters.smk"
include: "rules/keyframes.smk"
include: "rules/clips.smk"
include: "rules/takes.smk"
include: "rules/audio.smk"
include: "rules/lipsync.smk"
include: "rules/cut.smk"
include: "rules/render.smk"
include: "rules/qc.smk"
include: "rules/timeline.smk"
include: "rules/deliver.smk"
include: "rules/report.smk"


rule all:
    input:
        final_targets(),
        every_output,
        kept_report_tables,
    default_target: True


# The tables the report shows beside the finals and keyframes (rules/report.smk); run before --report.
rule report_tables:
    input:
        report_tables(),
