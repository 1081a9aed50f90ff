"""Keyframes: one storyboard image per scene, which the video step animates."""

from .base import CAMERAS, CharacterLook, ImageGenerator, KeyframeRequest
from .procedural import Appearance, ProceduralKeyframes, character_appearance

__all__ = [
    "CAMERAS",
    "Appearance",
    "CharacterLook",
    "ImageGenerator",
    "KeyframeRequest",
    "ProceduralKeyframes",
    "character_appearance",
]
