from shortdrama.snakemake_glue import run_step
from shortdrama.stages.writing import write_episode_script

run_step(snakemake, write_episode_script, snakemake.params.spec, snakemake.input.outline,
         int(snakemake.wildcards.ep), snakemake.output.script)
