"""An editor's cut applied to the build: edit decisions (decisions.py), read from an edited timeline
(importer.py), turned into trimmed shots, their voices and cues, and the cut mix (media.py), which the
subtitles, render, checks and delivery then read instead of the scenes (shortdrama.stages.cut)."""
