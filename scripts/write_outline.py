from shortdrama.snakemake_glue import run_step
from shortdrama.stages.writing import write_outline

run_step(snakemake, write_outline, snakemake.params.spec, snakemake.output.outline)
