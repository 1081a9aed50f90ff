from shortdrama.snakemake_glue import run_step
from shortdrama.stages.characters import draw_contact_sheet

run_step(snakemake, draw_contact_sheet, snakemake.params.spec, snakemake.input.lora, snakemake.output.png)
