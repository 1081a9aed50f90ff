"""Offline audio: WAV I/O, dialogue layout, synthesised music beds, ducking and the episode mix."""
