"""The Snakemake profiles name real rules and the resources the rules declare."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = {m.group(2) for smk in (REPO / "rules").glob("*.smk")
         for m in re.finditer(r"^(rule|checkpoint) (\w+):", smk.read_text(), re.M)}


def profile(name: str) -> dict:
    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


def test_slurm_profile_names_existing_rules_and_caps_the_api_and_gpu_resources():
    slurm = profile("slurm")
    assert slurm["executor"] == "slurm" and slurm["slurm-status-command"] == "squeue"
    assert set(slurm["set-resources"]) <= RULES
    grouped = dict(item.split("=") for item in slurm["groups"])
    assert set(grouped) <= RULES and set(grouped.values()) == {"episode_finish", "scene"}
    # A scene's keyframe, takes and the choice among them are one Slurm job; the writers run on the head
    # node (local rules).
    assert {rule for rule, group in grouped.items() if group == "scene"} == {"generate_keyframe", "generate_clip",
                                                                             "choose_take"}
    assert slurm["seconds-between-status-checks"] <= 2 and slurm["slurm-init-seconds-before-status-checks"] <= 2
    caps = dict(item.split("=") for item in slurm["resources"])
    assert set(caps) == {"video_api", "llm_api", "lipsync_api", "gpu"}
    assert {"slurm_partition", "slurm_account", "runtime", "mem_mb"} <= set(slurm["default-resources"])


def test_local_profile_caps_the_same_resources_the_rules_declare():
    local = profile("local")
    caps = dict(item.split("=") for item in local["resources"])
    text = "\n".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    blocks = re.findall(r"^    resources:\n((?:        \w+=.*\n)+)", text, re.M)
    declared = {line.split("=")[0].strip() for block in blocks for line in block.splitlines()}
    # `cpu` (every rule declares it: 1, or 0 while it waits on a hosted API) is capped by `shortdrama build`
    # from its --cores (a profile cannot name this machine's cores); without a cap --cores bounds the same jobs.
    assert set(caps) == declared - {"mem_mb", "cpu"}
    assert all(re.search(r"^        cpu=", block, re.M) for block in blocks) and len(blocks) == len(RULES)
    assert local["scheduler"] == "greedy" and local["keep-going"] is True and local["retries"] >= 1
