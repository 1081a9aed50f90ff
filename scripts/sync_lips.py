from shortdrama.snakemake_glue import run_step
from shortdrama.stages.lipsync import sync_lips

run_step(snakemake, sync_lips, snakemake.params.spec, snakemake.input.clip, snakemake.input.dialogue,
         snakemake.output.mp4, int(snakemake.wildcards.ep), int(snakemake.wildcards.sc))
