# `takes` clips per scene from its keyframe (rules/qc.smk chooses one); every clip shares one encoding
# so episodes concatenate by copy.


rule generate_clip:
    input:
        script=ancient(rules.write_episode_script.output.script),
        # ancient for an approved take: a redrawn keyframe does not remake it (shortdrama.review.approvals)
        keyframe=input_of("generate_clip", "keyframe"),
    output:
        mp4=P.take,
    params:
        spec=spec_of("generate_clip"),
    # A hosted clip job waits on the vendor: it holds no core (threads 0), only a video_api unit, so
    # video.concurrency jobs wait at once however few cores the machine has; its short conform takes a
    # CPU slot inside the job (stages.clips). A local renderer or model holds a core as usual.
    threads: WF.cores_for("video")
    # Ready clips start before anything else (a hosted one holds no core, so it costs the others nothing).
    priority: 20
    resources:
        cpu=WF.cores_for("video"),
        video_api=1 - WF.uses_gpu("video"),
        gpu=WF.uses_gpu("video"),
        mem_mb=1000 + 31000 * WF.uses_gpu("video"),
    log:
        "logs/{series}/ep{ep}/generate_clip/sc{sc}/take{take}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/generate_clip/sc{sc}/take{take}.tsv"
    script:
        "../scripts/generate_clip.py"
