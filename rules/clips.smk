# One clip per scene from its keyframe; every clip shares one encoding so episodes concatenate by copy.


rule generate_clip:
    input:
        script=ancient(rules.write_episode_script.output.script),
        keyframe=rules.generate_keyframe.output.png,
    output:
        mp4=P.clip,
    params:
        spec=spec_of("generate_clip"),
    resources:
        video_api=1 - WF.uses_gpu("video"),
        gpu=WF.uses_gpu("video"),
        mem_mb=1000 + 31000 * WF.uses_gpu("video"),
    log:
        "logs/{series}/ep{ep}/generate_clip/sc{sc}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/generate_clip/sc{sc}.tsv"
    script:
        "../scripts/generate_clip.py"
