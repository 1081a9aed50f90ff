"""Speech for the cast: voice specs, casting, and the offline espeak-ng voice."""

from .base import Voice, VoiceSpec, espeak_language, voice_for_character
from .espeak import EspeakVoice

__all__ = ["EspeakVoice", "Voice", "VoiceSpec", "espeak_language", "voice_for_character"]
