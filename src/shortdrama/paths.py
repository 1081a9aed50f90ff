"""Where each output of a series lives, as the rules in rules/*.smk name it.

The rules keep their own patterns (Snakemake needs them written out); this is the same list for the
library: targets, `shortdrama verify` and the provenance checks. tests/integration/test_verify.py
holds the two together: after a build, every manifest the jobs wrote is for a path named here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesPaths:
    root: str  # results/<series>

    @property
    def config(self) -> str:
        return f"{self.root}/config.yaml"

    @property
    def outline(self) -> str:
        return f"{self.root}/outline.json"

    def script(self, ep: str) -> str:
        return f"{self.root}/ep{ep}/script.json"

    def keyframe(self, ep: str, sc: str) -> str:
        return f"{self.root}/ep{ep}/keyframes/sc{sc}.png"

    def clip(self, ep: str, sc: str) -> str:
        return f"{self.root}/ep{ep}/clips/sc{sc}.mp4"

    def dialogue(self, ep: str, sc: str) -> str:
        return f"{self.root}/ep{ep}/audio/sc{sc}.wav"

    def cues(self, ep: str, sc: str) -> str:
        return f"{self.root}/ep{ep}/audio/sc{sc}.cues.json"

    def mix(self, ep: str) -> str:
        return f"{self.root}/ep{ep}/audio/episode_mix.wav"

    def subtitles(self, ep: str) -> str:
        return f"{self.root}/episode_{ep}.srt"

    def final(self, ep: str) -> str:
        return f"{self.root}/episode_{ep}_final.mp4"

    def character(self, character_id: str) -> str:
        return f"{self.root}/characters/{character_id}"

    def reference_image(self, character_id: str, index: int) -> str:
        return f"{self.character(character_id)}/references/ref_{index:02d}.png"

    def reference_caption(self, character_id: str, index: int) -> str:
        return f"{self.character(character_id)}/references/ref_{index:02d}.txt"

    def lora(self, character_id: str) -> str:
        return f"{self.character(character_id)}/lora.safetensors"

    def contact_sheet(self, character_id: str) -> str:
        return f"{self.character(character_id)}/contact_sheet.png"
