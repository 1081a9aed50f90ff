"""Where each output of a series lives: the patterns the rules declare (rules/*.smk reads them from
`P`), and the same paths filled in for one series (`SeriesPaths`) for the library and the plan."""

from __future__ import annotations

from dataclasses import dataclass


class P:
    """Output patterns, with the rules' wildcards: {series}, {ep}, {sc}, {take}, {character}, {i}."""

    config = "results/{series}/config.yaml"
    voices = "results/{series}/voices.json"  # who speaks with which voice, written once (voice.casting)
    outline = "results/{series}/outline.json"
    script = "results/{series}/ep{ep}/script.json"
    reference_image = "results/{series}/characters/{character}/references/ref_{i}.png"
    reference_caption = "results/{series}/characters/{character}/references/ref_{i}.txt"
    lora = "results/{series}/characters/{character}/lora.safetensors"
    contact_sheet = "results/{series}/characters/{character}/contact_sheet.png"
    keyframe = "results/{series}/ep{ep}/keyframes/sc{sc}.png"
    take = "results/{series}/ep{ep}/clips/sc{sc}/take{take}.mp4"
    take_qc = "results/{series}/ep{ep}/clips/sc{sc}/take{take}.qc.json"
    clip = "results/{series}/ep{ep}/clips/sc{sc}.mp4"  # the take QC chose
    selection = "results/{series}/ep{ep}/clips/sc{sc}.selection.json"  # which take, and why
    lipsync = "results/{series}/ep{ep}/lipsync/sc{sc}.mp4"  # the chosen clip, its mouths synced to the dialogue
    dialogue = "results/{series}/ep{ep}/audio/sc{sc}.wav"
    cues = "results/{series}/ep{ep}/audio/sc{sc}.cues.json"
    mix = "results/{series}/ep{ep}/audio/episode_mix.wav"
    music = "results/{series}/ep{ep}/audio/episode_music.wav"  # the mix's ducked music bed alone (a stem)
    subtitles = "results/{series}/episode_{ep}.srt"  # the soft track; beside it the same cues as WebVTT and
    subtitles_vtt = "results/{series}/episode_{ep}.vtt"  # players / the review page, and as styled ASS
    subtitles_ass = "results/{series}/episode_{ep}.ass"  # (render.subtitles), the file the burn-in draws
    final = "results/{series}/episode_{ep}_final.mp4"
    episode_qc = "results/{series}/episode_{ep}.qc.json"
    timeline = "results/{series}/episode_{ep}.otio"  # OpenTimelineIO: the cut as an editor opens it
    # An editor's cut (shortdrama.cut): each shot's video, voice and cues, and the cut mix.
    cut_video = "results/{series}/ep{ep}/cut/shot{shot}.mp4"
    cut_voice = "results/{series}/ep{ep}/cut/shot{shot}.wav"
    cut_cues = "results/{series}/ep{ep}/cut/shot{shot}.cues.json"
    cut_mix = "results/{series}/ep{ep}/cut/mix.wav"
    cut_music = "results/{series}/ep{ep}/cut/music.wav"
    # A platform's package (conf/deliver/): the encode, its cover, its description text, its QC report.
    delivery = "results/{series}/deliver/{platform}/episode_{ep}.mp4"
    delivery_cover = "results/{series}/deliver/{platform}/episode_{ep}_cover.jpg"
    delivery_text = "results/{series}/deliver/{platform}/episode_{ep}.txt"
    delivery_qc = "results/{series}/deliver/{platform}/episode_{ep}.qc.json"


def take_id(take: int) -> str:
    """The {take} wildcard of take number `take` (1-based): 01, 02, ..."""
    return f"{take:02d}"


@dataclass(frozen=True)
class SeriesPaths:
    series: str  # the {series} wildcard: "demo", or "demo/sweeps/<point>"

    @property
    def root(self) -> str:
        return f"results/{self.series}"

    def _fill(self, pattern: str, **wildcards: str) -> str:
        return pattern.format(series=self.series, **wildcards)

    @property
    def config(self) -> str:
        return self._fill(P.config)

    @property
    def voices(self) -> str:
        return self._fill(P.voices)

    @property
    def outline(self) -> str:
        return self._fill(P.outline)

    def script(self, ep: str) -> str:
        return self._fill(P.script, ep=ep)

    def keyframe(self, ep: str, sc: str) -> str:
        return self._fill(P.keyframe, ep=ep, sc=sc)

    def take(self, ep: str, sc: str, take: int) -> str:
        return self._fill(P.take, ep=ep, sc=sc, take=take_id(take))

    def take_qc(self, ep: str, sc: str, take: int) -> str:
        return self._fill(P.take_qc, ep=ep, sc=sc, take=take_id(take))

    def clip(self, ep: str, sc: str) -> str:
        return self._fill(P.clip, ep=ep, sc=sc)

    def selection(self, ep: str, sc: str) -> str:
        return self._fill(P.selection, ep=ep, sc=sc)

    def lipsync(self, ep: str, sc: str) -> str:
        return self._fill(P.lipsync, ep=ep, sc=sc)

    def dialogue(self, ep: str, sc: str) -> str:
        return self._fill(P.dialogue, ep=ep, sc=sc)

    def cues(self, ep: str, sc: str) -> str:
        return self._fill(P.cues, ep=ep, sc=sc)

    def mix(self, ep: str) -> str:
        return self._fill(P.mix, ep=ep)

    def music(self, ep: str) -> str:
        return self._fill(P.music, ep=ep)

    def subtitles(self, ep: str) -> str:
        return self._fill(P.subtitles, ep=ep)

    def subtitles_vtt(self, ep: str) -> str:
        return self._fill(P.subtitles_vtt, ep=ep)

    def subtitles_ass(self, ep: str) -> str:
        return self._fill(P.subtitles_ass, ep=ep)

    def final(self, ep: str) -> str:
        return self._fill(P.final, ep=ep)

    def episode_qc(self, ep: str) -> str:
        return self._fill(P.episode_qc, ep=ep)

    def timeline(self, ep: str) -> str:
        return self._fill(P.timeline, ep=ep)

    def cut_shot(self, ep: str, shot: str) -> dict[str, str]:
        """One shot of an episode's cut, by output name."""
        return {name: self._fill(pattern, ep=ep, shot=shot) for name, pattern in (
            ("mp4", P.cut_video), ("wav", P.cut_voice), ("cues", P.cut_cues))}

    def cut_mix(self, ep: str) -> str:
        return self._fill(P.cut_mix, ep=ep)

    def cut_music(self, ep: str) -> str:
        return self._fill(P.cut_music, ep=ep)

    def delivery(self, ep: str, platform: str) -> dict[str, str]:
        """The platform package of one episode, by output name."""
        return {name: self._fill(pattern, ep=ep, platform=platform) for name, pattern in (
            ("mp4", P.delivery), ("cover", P.delivery_cover), ("text", P.delivery_text), ("qc", P.delivery_qc))}

    def reference_image(self, character_id: str, index: int) -> str:
        return self._fill(P.reference_image, character=character_id, i=f"{index:02d}")

    def reference_caption(self, character_id: str, index: int) -> str:
        return self._fill(P.reference_caption, character=character_id, i=f"{index:02d}")

    def lora(self, character_id: str) -> str:
        return self._fill(P.lora, character=character_id)

    def contact_sheet(self, character_id: str) -> str:
        return self._fill(P.contact_sheet, character=character_id)
