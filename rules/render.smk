# Subtitles from the dialogue cues, then the final episode: concat + AAC mix + mov_text (+ burn-in).
# The final is in `snakemake --report` (report() changes no path and reruns nothing; see rules/report.smk).
from shortdrama.report_tables import episode_labels


rule write_subtitles:
    input:
        script=ancient(rules.write_episode_script.output.script),
        cues=inputs_of("write_subtitles", "cues"),
    output:
        srt=P.subtitles,
    params:
        spec=spec_of("write_subtitles"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/write_subtitles.log",
    script:
        "../scripts/write_subtitles.py"


rule render_episode:
    input:
        script=ancient(rules.write_episode_script.output.script),
        clips=inputs_of("render_episode", "clips"),
        audio=rules.mix_episode_audio.output.wav,
        subtitles=rules.write_subtitles.output.srt,
    output:
        mp4=report(P.final, caption="../report/episode.rst", category="Episodes", labels=episode_labels),
    params:
        spec=spec_of("render_episode"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/render_episode.log",
    benchmark:
        "benchmarks/{series}/ep{ep}/render_episode.tsv"
    script:
        "../scripts/render_episode.py"
