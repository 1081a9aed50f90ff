# Each scene's takes measured and judged (shortdrama.qc), retakes bought while every take fails, the
# best take copied to the scene's clip with which one and why.


rule choose_take:
    input:
        script=ancient(rules.write_episode_script.output.script),
        takes=inputs_of("choose_take", "takes"),
        keyframe=rules.generate_keyframe.output.png,
        references=inputs_of("choose_take", "references"),
    output:
        mp4=P.clip,
        selection=P.selection,
    params:
        spec=spec_of("choose_take"),
    # Before keyframes: a chosen clip is what unblocks an episode's render.
    priority: 15
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/choose_take/sc{sc}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/choose_take/sc{sc}.tsv"
    script:
        "../scripts/choose_take.py"
