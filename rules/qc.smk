# Each episode's final, voices and subtitles checked as delivered (shortdrama.qc): episode_NN.qc.json.


rule check_episode:
    input:
        script=ancient(rules.write_episode_script.output.script),
        final=rules.render_episode.output.mp4,
        subtitles=rules.write_subtitles.output.srt,
        dialogue=inputs_of("check_episode", "dialogue"),
        cues=inputs_of("check_episode", "cues"),
        selections=inputs_of("check_episode", "selections"),
    output:
        qc=P.episode_qc,
    params:
        spec=spec_of("check_episode"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/check_episode.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/check_episode.tsv"
    script:
        "../scripts/check_episode.py"
