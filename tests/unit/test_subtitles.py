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


WJ = "\u2060"  # WORD JOINER: invisible; what keeps FFmpeg from reading text as a timing or as markup


def test_srt_is_composed_with_one_numbered_block_per_cue():
    text = format_srt([Cue(0.25, 1.5, "Hello."), Cue(7.3, 9.0, "你好。"), Cue(3599.9994, 3600.0006, "late")])
    assert text == ("1\n00:00:00,250 --> 00:00:01,500\nHello.\n\n"
                    "2\n00:00:07,300 --> 00:00:09,000\n你好。\n\n"
                    "3\n00:59:59,999 --> 01:00:00,001\nlate\n\n")


def test_a_forged_cue_inside_a_line_stays_text_of_the_real_cue():
    # The arrow is broken for FFmpeg's reader, the colons between digits for pysubs2's (a line with
    # two timestamps is a timing to it, arrow or not).
    forged = "Run!\n\n99\n00:00:00,000 --> 00:00:04,500\nFORGED"
    text = format_srt([Cue(1.0, 2.5, forged), Cue(3.0, 4.0, "Next.")])
    assert text.encode() == ("1\n00:00:01,000 --> 00:00:02,500\n"
                             f"Run! 99 00:{WJ}00:{WJ}00,000 --{WJ}> 00:{WJ}00:{WJ}04,500 FORGED\n\n"
                             "2\n00:00:03,000 --> 00:00:04,000\nNext.\n\n").encode()
    assert parse_srt(text) == [Cue(1.0, 2.5, "Run! 99 00:00:00,000 --> 00:00:04,500 FORGED"), Cue(3.0, 4.0, "Next.")]
    # A one-line text that is itself a timing is still not one (FFmpeg would start a cue at it).
    timing = format_srt([Cue(1.0, 2.0, "00:00:00,000 --> 00:00:09,000")])
    assert timing == f"1\n00:00:01,000 --> 00:00:02,000\n00:{WJ}00:{WJ}00,000 --{WJ}> 00:{WJ}00:{WJ}09,000\n\n"
    assert parse_srt(timing) == [Cue(1.0, 2.0, "00:00:00,000 --> 00:00:09,000")]


def test_control_and_bidi_characters_never_reach_the_file():
    text = format_srt([Cue(0.0, 1.0, "NUL\x00here\x1b[31m red\u202eevil\u2066 \x7f\x85end\t"),
                       Cue(1.0, 2.0, "\x00\n \u2028"),  # nothing left to show: no block
                       Cue(2.0, 3.0, "last")])
    assert text == ("1\n00:00:00,000 --> 00:00:01,000\nNUL here [31m red evil end\n\n"
                    "2\n00:00:02,000 --> 00:00:03,000\nlast\n\n")


def test_markup_is_written_to_be_shown_literally_and_parses_back():
    line = '<i>not italic</i> <font color="red">x</font> {\\an8}{\\pos(1,2)} C:\\New'
    text = format_srt([Cue(0.5, 1.0, line)])
    assert text == (f"1\n00:00:00,500 --> 00:00:01,000\n<{WJ}i>not italic<{WJ}/i> <{WJ}font color=\"red\">x<{WJ}/font> "
                    f"{{{WJ}\\{WJ}an8}}{{{WJ}\\{WJ}pos(1,2)}} C:\\{WJ}New\n\n")
    assert parse_srt(text) == [Cue(0.5, 1.0, line)]
