from shortdrama.snakemake_glue import run_step
from shortdrama.stages.clips import generate_clip

run_step(snakemake, generate_clip, snakemake.params.spec, snakemake.input.keyframe, snakemake.output.mp4,
         int(snakemake.wildcards.ep), int(snakemake.wildcards.sc))
