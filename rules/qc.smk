# Automated QC: each scene's takes measured and judged, retakes bought while every take fails, the best
# take copied to the scene's clip; then each episode's final, voices and subtitles checked.


rule choose_take:
    input:
        script=ancient(rules.write_episode_script.output.script),
        takes=inputs_of("choose_take", "takes"),
        keyframe=rules.generate_keyframe.output.png,
        references=inputs_of("choose_take", "references"),
    output:
        mp4=P.clip,
        selection=P.selection,
        reports=take_reports(),
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
