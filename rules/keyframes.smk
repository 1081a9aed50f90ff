# One storyboard keyframe per scene. The script is ancient: the scene's own slice in params is what
# decides a rerun, so a dialogue edit redraws nothing and a look edit redraws only that character's scenes.
# Each keyframe is in `snakemake --report`, under its episode in "Storyboard".
from shortdrama.report_tables import keyframe_labels


rule generate_keyframe:
    input:
        script=ancient(rules.write_episode_script.output.script),
        loras=inputs_of("generate_keyframe", "loras"),
    output:
        png=report(P.keyframe, caption="../report/keyframe.rst", category="Storyboard", subcategory="Episode {ep}",
                   labels=keyframe_labels),
    params:
        spec=spec_of("generate_keyframe"),
    # Keyframes before voices, mixes and renders: each one unblocks a clip, which may wait minutes on a
    # hosted API; the CPU work that unblocks nothing can run while those clips wait.
    priority: 10
    resources:
        cpu=1,
        gpu=WF.uses_gpu("image"),
        mem_mb=1000 + 11000 * WF.uses_gpu("image"),
    log:
        "logs/{series}/ep{ep}/generate_keyframe/sc{sc}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/generate_keyframe/sc{sc}.tsv"
    script:
        "../scripts/generate_keyframe.py"
