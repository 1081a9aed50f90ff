from shortdrama.snakemake_glue import run_step
from shortdrama.stages.render import render_episode

run_step(snakemake, render_episode, snakemake.params.spec, snakemake.input.clips, snakemake.input.audio[0],
         snakemake.input.subtitles, snakemake.input.ass, snakemake.output.mp4)
