# Writing: the composed config (provenance), the series outline, one script per episode.

# On a cluster these run on the head node: they compute nothing (a writer waits on its LLM's API, the
# offline one takes milliseconds), and a Slurm job would cost seconds to start and a status check to end.
localrules:
    record_config,
    write_outline,
    write_episode_script,


rule record_config:
    output:
        config=P.config,
    params:
        spec=spec_of("record_config"),
    resources:
        cpu=1,
    log:
        "logs/{series}/record_config.log",
    script:
        "../scripts/record_config.py"


rule write_outline:
    output:
        outline=P.outline,
    params:
        spec=spec_of("write_outline"),
    # The documents first: every other job of the series waits on them.
    priority: 30
    threads: WF.cores_for("llm")
    resources:
        cpu=WF.cores_for("llm"),
        llm_api=1,
    log:
        "logs/{series}/write_outline.log",
    benchmark:
        "benchmarks/{series}/write_outline.tsv"
    script:
        "../scripts/write_outline.py"


# The outline is a plain input: a new outline rewrites every episode script. It is deliberately not a
# checkpoint read by these params: a checkpoint whose params wait on another checkpoint leaves
# Snakemake (9.27) unable to resolve the jobs behind it when a final file is deleted.
checkpoint write_episode_script:
    input:
        outline=rules.write_outline.output.outline,
    output:
        script=P.script,
    params:
        spec=spec_of("write_episode_script"),
    priority: 30
    threads: WF.cores_for("llm")
    resources:
        cpu=WF.cores_for("llm"),
        llm_api=1,
    log:
        "logs/{series}/ep{ep}/write_episode_script.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/write_episode_script.tsv"
    script:
        "../scripts/write_episode_script.py"
