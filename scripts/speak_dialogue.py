from shortdrama.snakemake_glue import run_step
from shortdrama.stages.audio import speak_dialogue

run_step(snakemake, speak_dialogue, snakemake.params.spec, snakemake.output.wav, snakemake.output.cues,
         int(snakemake.wildcards.ep), int(snakemake.wildcards.sc), None, list(snakemake.input.clip))
