from shortdrama.snakemake_glue import run_step
from shortdrama.stages.takes import choose_take

run_step(snakemake, choose_take, snakemake.params.spec, snakemake.input.takes, snakemake.input.keyframe,
         snakemake.output.mp4, snakemake.output.selection, int(snakemake.wildcards.ep), int(snakemake.wildcards.sc))
