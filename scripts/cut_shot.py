from shortdrama.snakemake_glue import run_step
from shortdrama.stages.cut import cut_shot

run_step(snakemake, cut_shot, snakemake.params.spec, snakemake.input.video[0], snakemake.input.voice[0],
         snakemake.input.cues[0], dict(snakemake.output.items()))
