from shortdrama.snakemake_glue import run_step
from shortdrama.stages.characters import generate_character_references

run_step(snakemake, generate_character_references, snakemake.params.spec, list(snakemake.output.images))
