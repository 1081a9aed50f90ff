# Dialogue per scene (voice + cue timings), then the episode mix: dialogue over a ducked music bed.


rule speak_dialogue:
    input:
        script=ancient(rules.write_episode_script.output.script),
    output:
        wav="results/{series}/ep{ep}/audio/sc{sc}.wav",
        cues="results/{series}/ep{ep}/audio/sc{sc}.cues.json",
    params:
        spec=dialogue_spec,
    log:
        "logs/{series}/ep{ep}/speak_dialogue/sc{sc}.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/speak_dialogue/sc{sc}.tsv"
    script:
        "../scripts/speak_dialogue.py"


rule mix_episode_audio:
    input:
        script=ancient(rules.write_episode_script.output.script),
        dialogue=scene_paths(rules.speak_dialogue.output.wav),
    output:
        wav="results/{series}/ep{ep}/audio/episode_mix.wav",
    params:
        spec=mix_spec,
    log:
        "logs/{series}/ep{ep}/mix_episode_audio.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/mix_episode_audio.tsv"
    script:
        "../scripts/mix_episode_audio.py"
