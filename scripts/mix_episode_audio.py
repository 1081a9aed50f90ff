from shortdrama.snakemake_glue import run_step
from shortdrama.stages.audio import mix_episode_audio

run_step(snakemake, mix_episode_audio, snakemake.params.spec, snakemake.input.dialogue, snakemake.output.wav,
         int(snakemake.wildcards.ep), None, snakemake.output.music)
