from shortdrama.snakemake_glue import run_step
from shortdrama.stages.render import write_subtitles

run_step(snakemake, write_subtitles, snakemake.params.spec, snakemake.input.cues, snakemake.output.srt,
         snakemake.output.vtt, snakemake.output.ass)
