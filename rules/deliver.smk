# Delivery (off by default: deliver=none): each episode packaged for the chosen platform: the encode,
# its cover, its description text and its QC report (stages/deliver.py). No provider is called.


rule deliver_episode:
    input:
        script=ancient(rules.write_episode_script.output.script),
        videos=inputs_of("deliver_episode", "videos"),
        mix=inputs_of("deliver_episode", "mix"),
        subtitles=rules.write_subtitles.output.srt,
        ass=rules.write_subtitles.output.ass,
        keyframe=inputs_of("deliver_episode", "keyframe"),
        outline=rules.write_outline.output.outline,
    output:
        mp4=P.delivery,
        cover=P.delivery_cover,
        text=P.delivery_text,
        qc=P.delivery_qc,
    params:
        spec=spec_of("deliver_episode"),
    resources:
        cpu=1,
    log:
        "logs/{series}/deliver/{platform}/episode_{ep}.log",
    benchmark:
        "benchmarks/{series}/deliver/{platform}/episode_{ep}.tsv"
    script:
        "../scripts/deliver_episode.py"
