from shortdrama.snakemake_glue import run_step
from shortdrama.stages.characters import train_character_lora

run_step(snakemake, train_character_lora, snakemake.params.spec, snakemake.input.references, snakemake.output.lora)
