from shortdrama.snakemake_glue import run_step
from shortdrama.stages.keyframes import generate_keyframe

run_step(snakemake, generate_keyframe, snakemake.params.spec, snakemake.output.png,
         int(snakemake.wildcards.ep), int(snakemake.wildcards.sc), list(snakemake.input.loras))
