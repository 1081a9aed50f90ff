from shortdrama.snakemake_glue import run_step
from shortdrama.stages.qc import check_episode

run_step(snakemake, check_episode, snakemake.params.spec, snakemake.input.final, snakemake.input.subtitles,
         snakemake.input.dialogue, snakemake.input.cues, snakemake.input.selections, snakemake.output.qc,
         int(snakemake.wildcards.ep))
