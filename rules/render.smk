# Subtitles from the dialogue cues (SRT, WebVTT, styled ASS), then the final episode: concat + AAC mix +
# the SRT as mov_text (+ the ASS burned in).
# The final is in `snakemake --report` (report() changes no path and reruns nothing; see rules/report.smk).
from shortdrama.report_tables import episode_labels


rule write_subtitles:
    input:
        script=ancient(rules.write_episode_script.output.script),
        cues=inputs_of("write_subtitles", "cues"),
    output:
        srt=P.subtitles,
        vtt=P.subtitles_vtt,
        ass=P.subtitles_ass,
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
        # the mix, or an editor's cut of it (rules/cut.smk)
        audio=inputs_of("render_episode", "audio"),
        subtitles=rules.write_subtitles.output.srt,
        ass=rules.write_subtitles.output.ass,
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
