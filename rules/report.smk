# What `snakemake --report results/<series>/report.zip` shows beside the finals and keyframes (marked with
# report() where they are made): each episode's QC table and storyboard contact sheet, the series' costs.
# A plain build makes none of them (so a build's outputs are exactly the series'): `snakemake --cores N
# report_tables` does; from then on rule all keeps them current (kept_report_tables). Captions: report/*.rst.
# Logic: shortdrama.report_tables; the input functions are in common.smk. docs/report.md.
from shortdrama.report_tables import R, episode_labels

# On a cluster these run on the head node: they read a few small files and take well under a second.
localrules:
    summarise_episode,
    tabulate_costs,


rule summarise_episode:
    input:
        qc=rules.check_episode.output.qc,
        selections=inputs_of("check_episode", "selections"),
        script=rules.write_episode_script.output.script,
        keyframes=episode_keyframes,
    output:
        qc=report(R.qc, caption="../report/qc.rst", category="Quality control", labels=episode_labels),
        storyboard=report(R.storyboard, caption="../report/storyboard.rst", category="Storyboard",
                          subcategory="Episode {ep}", labels={"shot": "all scenes (contact sheet)"}),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/summarise_episode.log",
    script:
        "../scripts/summarise_episode.py"


rule tabulate_costs:
    input:
        # after every episode's last job, so that the ledger holds what they spent
        qc=expand(rules.check_episode.output.qc, ep=WF.open_episodes, allow_missing=True),
    output:
        html=report(R.costs, caption="../report/costs.rst", category="Costs"),
    params:
        ledger="results/{series}/ledger.jsonl",
        episodes=len(WF.episodes),
        traditional_usd_per_episode=WF.cfg.budget.traditional_usd_per_episode,
    resources:
        cpu=1,
    log:
        "logs/{series}/tabulate_costs.log",
    script:
        "../scripts/tabulate_costs.py"
