from shortdrama.snakemake_glue import run_step
from shortdrama.stages.deliver import deliver_episode

run_step(snakemake, deliver_episode, snakemake.params.spec, list(snakemake.input.videos), snakemake.input.mix[0],
         snakemake.input.subtitles, snakemake.input.ass, snakemake.input.keyframe[0], snakemake.input.outline,
         int(snakemake.wildcards.ep), dict(snakemake.output.items()))
