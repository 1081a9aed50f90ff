from shortdrama.snakemake_glue import run_step
from shortdrama.stages.timeline import write_timeline

run_step(snakemake, write_timeline, snakemake.params.spec, snakemake.input.clips, snakemake.input.selections,
         snakemake.input.dialogue, snakemake.input.cues, snakemake.input.audio[0], snakemake.input.qc,
         snakemake.output.otio, int(snakemake.wildcards.ep), snakemake.input.music[0])
