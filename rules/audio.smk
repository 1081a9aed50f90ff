# Dialogue per scene (voice + cue timings), then the episode mix: dialogue over a ducked music bed.


rule speak_dialogue:
    input:
        script=ancient(rules.write_episode_script.output.script),
        # The scene's clip, when its own sound is the dialogue (video.own_audio); none otherwise.
        clip=inputs_of("speak_dialogue", "clip"),
    output:
        wav=P.dialogue,
        cues=P.cues,
    params:
        spec=spec_of("speak_dialogue"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/speak_dialogue/sc{sc}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/speak_dialogue/sc{sc}.tsv"
    script:
        "../scripts/speak_dialogue.py"


rule mix_episode_audio:
    input:
        script=ancient(rules.write_episode_script.output.script),
        dialogue=inputs_of("mix_episode_audio", "dialogue"),
    output:
        wav=P.mix,
        music=P.music,  # the ducked music bed alone: a stem for the editor's timeline
    params:
        spec=spec_of("mix_episode_audio"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/mix_episode_audio.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/mix_episode_audio.tsv"
    script:
        "../scripts/mix_episode_audio.py"
