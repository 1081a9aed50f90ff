# Subtitles from the dialogue cues, then the final episode: concat + AAC mix + mov_text (+ burn-in).


rule write_subtitles:
    input:
        script=ancient(rules.write_episode_script.output.script),
        cues=scene_paths(rules.speak_dialogue.output.cues),
    output:
        srt="results/{series}/episode_{ep}.srt",
    params:
        spec=subtitles_spec,
    log:
        "logs/{series}/ep{ep}/write_subtitles.log",
    script:
        "../scripts/write_subtitles.py"


rule render_episode:
    input:
        script=ancient(rules.write_episode_script.output.script),
        clips=scene_paths(rules.generate_clip.output.mp4),
        audio=rules.mix_episode_audio.output.wav,
        subtitles=rules.write_subtitles.output.srt,
    output:
        mp4="results/{series}/episode_{ep}_final.mp4",
    params:
        spec=render_spec,
    log:
        "logs/{series}/ep{ep}/render_episode.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/render_episode.tsv"
    script:
        "../scripts/render_episode.py"
