from shortdrama.snakemake_glue import run_step
from shortdrama.stages.cut import cut_mix

run_step(snakemake, cut_mix, snakemake.params.spec, snakemake.input.mix, snakemake.input.music, snakemake.output.wav,
         snakemake.output.music)
