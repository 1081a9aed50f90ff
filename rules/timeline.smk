# Each episode as an OpenTimelineIO timeline (shortdrama.timeline): episode_NN.otio, what `shortdrama export`
# turns into FCP 7 XML, FCPXML, a CMX 3600 EDL, a Kdenlive project or MLT XML. No provider call.


rule write_timeline:
    input:
        script=ancient(rules.write_episode_script.output.script),
        clips=inputs_of("write_timeline", "clips"),
        selections=inputs_of("write_timeline", "selections"),
        dialogue=inputs_of("write_timeline", "dialogue"),
        cues=inputs_of("write_timeline", "cues"),
        audio=inputs_of("write_timeline", "audio"),  # the mix, or an editor's cut of it
        music=inputs_of("write_timeline", "music"),  # its music stem, likewise
        subtitles=rules.write_subtitles.output.srt,
        qc=rules.check_episode.output.qc,
    output:
        otio=P.timeline,
    params:
        spec=spec_of("write_timeline"),
    resources:
        cpu=1,
    log:
        "logs/{series}/ep{ep}/write_timeline.log",
    script:
        "../scripts/write_timeline.py"
