from shortdrama.snakemake_glue import run_step
from shortdrama.stages.writing import record_config

run_step(snakemake, record_config, snakemake.params.spec, snakemake.output.config)
