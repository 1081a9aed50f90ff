# An editor's cut (review/<series>.edits.yaml, written by `shortdrama import-edit`): each shot trimmed
# from its scene's video, voice and cues, and the mix cut to the shots' order (stages/cut.py). Episodes
# without an edit have no such jobs; their subtitles and render read the scenes.


rule cut_shot:
    input:
        script=ancient(rules.write_episode_script.output.script),
        video=inputs_of("cut_shot", "video"),
        voice=inputs_of("cut_shot", "voice"),
        cues=inputs_of("cut_shot", "cues"),
    output:
        mp4=P.cut_video,
        wav=P.cut_voice,
        cues=P.cut_cues,
    params:
        spec=spec_of("cut_shot"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/cut_shot/shot{shot}.log",
    script:
        "../scripts/cut_shot.py"


rule cut_mix:
    input:
        script=ancient(rules.write_episode_script.output.script),
        mix=rules.mix_episode_audio.output.wav,
        music=rules.mix_episode_audio.output.music,
    output:
        wav=P.cut_mix,
        music=P.cut_music,
    params:
        spec=spec_of("cut_mix"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/cut_mix.log",
    script:
        "../scripts/cut_mix.py"
