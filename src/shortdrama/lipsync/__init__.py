"""Lip-sync: a hosted model redraws the speaker's mouth in a scene's clip to the scene's dialogue track.

The stage (shortdrama.stages.lipsync, rules/lipsync.smk) runs between the chosen clip and the render,
off by default (`lipsync=none`), and only on scenes with on-screen dialogue. Its jobs go through the
same job engine as hosted video (shortdrama.video.jobs): recorded before the submit, polled, resumed
after a kill, verified before use, never paid for twice.
"""
