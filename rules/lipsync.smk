# Lip-sync (off by default: lipsync=none): each scene with on-screen dialogue, its chosen clip sent with
# its dialogue track to a hosted lip-sync model; the render reads the synced clip (stages/lipsync.py).


rule sync_lips:
    input:
        script=ancient(rules.write_episode_script.output.script),
        clip=rules.choose_take.output.mp4,
        dialogue=rules.speak_dialogue.output.wav,
    output:
        mp4=P.lipsync,
    params:
        spec=spec_of("sync_lips"),
    # A hosted job waits on the vendor: no core (its conform takes a CPU slot inside the job), one
    # lipsync_api unit (lipsync.concurrency caps it, see shortdrama.scheduling).
    threads: WF.cores_for("lipsync")
    priority: 15
    resources:
        cpu=WF.cores_for("lipsync"),
        lipsync_api=1,
    log:
        "logs/{series}/ep{ep}/sync_lips/sc{sc}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/sync_lips/sc{sc}.tsv"
    script:
        "../scripts/sync_lips.py"
