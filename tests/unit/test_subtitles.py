from shortdrama.subtitles import Cue, episode_cues, format_srt, parse_srt


def test_cues_shift_by_preceding_scenes_and_round_trip():
    scenes = [[{"speaker": "A", "text": "Hello.", "start": 0.25, "end": 1.5}], [],
              [{"speaker": "B", "text": "你好。", "start": 0.3, "end": 2.0}]]
    cues = episode_cues(scenes, [3.0, 4.0, 5.0])
    assert cues == [Cue(0.25, 1.5, "Hello."), Cue(7.3, 9.0, "你好。")]
    text = format_srt(cues)
    assert "00:00:07,300 --> 00:00:09,000" in text
    assert parse_srt(text) == cues


def test_cue_never_runs_past_its_scene():
    cues = episode_cues([[{"speaker": "A", "text": "x", "start": 1.0, "end": 9.0}]], [3.0])
    assert cues[0].end == 3.0
