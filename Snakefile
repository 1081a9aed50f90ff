# shortdrama: theme + cast -> outline -> scripts -> keyframes, clips, voices -> episodes.
# Options are Hydra overrides passed as --config pairs (see README): --config video=still render=1080p
from snakemake.utils import min_version

min_version("9.0")


include: "rules/common.smk"
include: "rules/hooks.smk"
include: "rules/script.smk"
include: "rules/characters.smk"
include: "rules/keyframes.smk"
include: "rules/clips.smk"
include: "rules/takes.smk"
include: "rules/audio.smk"
include: "rules/render.smk"
include: "rules/qc.smk"


rule all:
    input:
        final_targets(),
        every_output,
    default_target: True
