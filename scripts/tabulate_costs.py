import logging

from shortdrama.report_tables import tabulate_costs

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO, force=True)
tabulate_costs(snakemake.params.ledger, snakemake.output.html, snakemake.params.episodes,
               snakemake.params.traditional_usd_per_episode)
