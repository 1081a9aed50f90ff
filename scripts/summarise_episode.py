import logging

from shortdrama.report_tables import summarise_episode

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO, force=True)
summarise_episode(snakemake.input.qc, snakemake.input.selections, snakemake.input.script, snakemake.input.keyframes,
                  snakemake.output.qc, snakemake.output.storyboard)
