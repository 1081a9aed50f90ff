"""What rules/common.smk needs from the library: the composed config, target paths, and each rule's spec.

One `Workflow` is built per Snakemake invocation from Snakemake's `config` dictionary (the
`--config` pairs), so `snakemake --config video=still` and `shortdrama build video=still` compose
the same configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import specs
from .config import AppConfig, load_config, overrides_from_snakemake
from .cost.call import Runtime
from .errors import SchemaError, ShortDramaError
from .schemas import EpisodeScript
from .steps import read_script_checked, written_with


@dataclass
class Workflow:
    cfg: AppConfig
    overrides: list[str]
    _scripts: dict[str, tuple[float, EpisodeScript]] = field(default_factory=dict)

    @classmethod
    def from_snakemake_config(cls, config: Mapping[str, Any], conf_dir: str | None = None) -> "Workflow":
        overrides = overrides_from_snakemake(config)
        return cls(load_config(overrides, Path(conf_dir) if conf_dir else None), overrides)

    # -- names -----------------------------------------------------------------------------
    @property
    def series(self) -> str:
        """The `{series}` wildcard: the output folder under results/ (`demo`, or `demo/sweeps/<point>`)."""
        return output_folder(self.cfg).removeprefix("results/")

    def runtime(self, checkout: str | os.PathLike) -> Runtime:
        """Operational settings for the jobs (ledger, budget, cache): not params, so changing them reruns nothing."""
        return Runtime.from_config(self.cfg, Path(output_folder(self.cfg)), Path(checkout) / ".cache" / "shortdrama")

    @property
    def episodes(self) -> list[str]:
        return [f"{n:02d}" for n in range(1, self.cfg.series.episodes + 1)]

    def final_targets(self) -> list[str]:
        return [f"results/{self.series}/config.yaml"] + [
            f"results/{self.series}/episode_{ep}_final.mp4" for ep in self.episodes]

    # -- documents read back from checkpoints (cached per path and mtime) --------------------
    def script(self, path: str | os.PathLike) -> EpisodeScript:
        return self._cached(self._scripts, path, self._read_checked)

    def _read_checked(self, path: str) -> EpisodeScript:
        episode = int(Path(path).parent.name.removeprefix("ep"))
        try:
            return read_script_checked(path, [c.name for c in self.cfg.series.cast.values()],
                                       language=self.cfg.series.language, episode=episode)
        except ShortDramaError as error:
            message = str(error)
            raise SchemaError(message if message.startswith(str(path)) else f"{path}: {message}") from None

    def check_existing_scripts(self) -> None:
        """Validate the scripts on disk that this run will keep (perhaps edited by hand) before
        Snakemake builds its graph, where an input function that raises buries the message under a
        traceback. A script whose writer spec changed is about to be rewritten: it is not checked."""
        for ep in self.episodes:
            path = Path(f"results/{self.series}/ep{ep}/script.json")
            if path.exists() and written_with(path) == self.script_spec(ep):
                self.script(str(path))

    @staticmethod
    def _cached(cache: dict, path: str | os.PathLike, read):  # noqa: ANN001, ANN205
        key = str(path)
        mtime = os.stat(key).st_mtime
        hit = cache.get(key)
        if hit is None or hit[0] != mtime:
            hit = cache[key] = (mtime, read(key))
        return hit[1]

    # -- character LoRAs -------------------------------------------------------------------
    def lora_path(self, character_id: str) -> str:
        return f"results/{self.series}/characters/{character_id}/lora.safetensors"

    def character_references(self, character_id: str, checkout: str | os.PathLike) -> list[str]:
        """The photos given in the cast entry (with any caption sidecars), else the generated set."""
        from .characters.generated import caption_sidecar
        from .characters.references import expand_references

        entries = self.cfg.series.cast[character_id].references
        if not entries:
            images = self.generated_references(character_id)
            return images + [str(caption_sidecar(Path(p))) for p in images]
        images = [Path(p) for p in expand_references(entries, Path(checkout))]
        return [str(p) for p in images] + [str(caption_sidecar(p)) for p in images if caption_sidecar(p).is_file()]

    def uses_gpu(self, group: str) -> int:
        """1 when the group's model runs locally on a GPU: the `gpu` resource a profile caps and a cluster places."""
        return int(getattr(self.cfg, group).provider == "diffusers")

    def generated_references(self, character_id: str) -> list[str]:
        folder = f"results/{self.series}/characters/{character_id}/references"
        return [f"{folder}/ref_{i:02d}.png" for i in range(self.cfg.lora.reference_count)]

    def contact_sheets(self, script_paths: list[str]) -> list[str]:
        """One sheet per character with a LoRA, i.e. per character on screen in the given scripts."""
        if not self.cfg.lora.enabled:
            return []
        ids = {c.name: cid for cid, c in self.cfg.series.cast.items()}
        on_screen = {name for path in script_paths for scene in self.script(path).scenes for name in scene.characters}
        return [f"results/{self.series}/characters/{cid}/contact_sheet.png"
                for name, cid in ids.items() if name in on_screen]

    def keyframe_loras(self, script_path: str | os.PathLike, sc: str) -> list[str]:
        """The adapters of the characters on screen: retraining one reruns only the shots it is in."""
        if not self.cfg.lora.enabled:
            return []
        ids = {c.name: cid for cid, c in self.cfg.series.cast.items()}
        return [self.lora_path(ids[name]) for name in self.scene(script_path, sc).characters if name in ids]

    def lora_spec(self, character_id: str) -> str:
        return specs.lora_spec(self.cfg, character_id)

    def references_spec(self, character_id: str) -> str:
        return specs.references_spec(self.cfg, character_id)

    def contact_sheet_spec(self, character_id: str) -> str:
        return specs.contact_sheet_spec(self.cfg, character_id)

    def scene_ids(self, script_path: str | os.PathLike) -> list[str]:
        return [f"{n:02d}" for n in range(1, len(self.script(script_path).scenes) + 1)]

    def scene(self, script_path: str | os.PathLike, sc: str):  # noqa: ANN201
        scenes = self.script(script_path).scenes
        index = int(sc) - 1
        if not 0 <= index < len(scenes):
            raise SchemaError(f"{script_path} has {len(scenes)} scenes; there is no scene {sc}")
        return scenes[index]

    # -- specs (params) ----------------------------------------------------------------------
    def config_spec(self) -> str:
        return specs.config_spec(self.cfg)

    def outline_spec(self) -> str:
        return specs.outline_spec(self.cfg)

    def script_spec(self, ep: str) -> str:
        return specs.script_spec(self.cfg, int(ep))

    def keyframe_spec(self, script_path: str, sc: str) -> str:
        return specs.keyframe_spec(self.cfg, self.scene(script_path, sc))

    def clip_spec(self, script_path: str, sc: str) -> str:
        return specs.clip_spec(self.cfg, self.scene(script_path, sc))

    def dialogue_spec(self, script_path: str, sc: str) -> str:
        return specs.dialogue_spec(self.cfg, self.scene(script_path, sc))

    def subtitles_spec(self, script_path: str) -> str:
        return specs.subtitles_spec(self.cfg, self.script(script_path))

    def mix_spec(self, script_path: str) -> str:
        return specs.mix_spec(self.cfg, self.script(script_path))

    def render_spec(self, script_path: str) -> str:
        return specs.render_spec(self.cfg, self.script(script_path))


def output_folder(cfg: AppConfig) -> str:
    return cfg.output_dir or f"results/{cfg.series.slug}"

