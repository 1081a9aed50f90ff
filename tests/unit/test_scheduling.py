"""How many jobs of each kind run at once: API-bound jobs hold no core, and their caps come from the
chosen presets' concurrency (shortdrama.scheduling, Workflow.cores_for)."""

from pathlib import Path

from shortdrama.config import load_config
from shortdrama.cost.slots import ProviderSlots
from shortdrama.scheduling import CPU_SLOTS_ENV, api_limits, cpu_slot, profile_of, scheduling_arguments
from shortdrama.workflow import Workflow

REPO = Path(__file__).resolve().parents[2]


def test_jobs_that_wait_on_a_hosted_api_hold_no_core():
    hosted = Workflow(load_config(["video=gateway_kling", "llm=deepseek"]), [])
    assert (hosted.cores_for("video"), hosted.cores_for("llm")) == (0, 0)
    offline = Workflow(load_config([]), [])
    assert (offline.cores_for("video"), offline.cores_for("llm")) == (1, 1)  # the animatic renders on a core
    assert Workflow(load_config(["video=fake_paid"]), []).cores_for("video") == 1  # priced, but rendered here


def test_the_api_caps_are_the_presets_concurrency():
    cfg = load_config(["video=gateway_kling", "video.concurrency=8", "llm=deepseek", "llm.concurrency=3"])
    # Twice as many jobs as the vendor takes (at most 16 more): they start up or conform meanwhile; the
    # provider slots inside the jobs keep the vendor at its concurrency.
    assert api_limits(cfg) == {"video_api": 16, "llm_api": 6}
    assert api_limits(load_config(["lipsync=fal_sync", "lipsync.concurrency=3"]))["lipsync_api"] == 6
    assert api_limits(load_config(["video=gateway_kling", "video.concurrency=40"]))["video_api"] == 56


def test_build_holds_compute_to_the_cores_and_makes_room_for_the_api_jobs():
    """--cores 2 with 8 video slots: `cpu=2` bounds the jobs that compute; Snakemake's --cores (and so its
    pool of job threads, --cores + 5) is large enough for every API job the caps allow besides them."""
    cfg = load_config(["video=gateway_kling", "video.concurrency=8"])
    args = scheduling_arguments(cfg, "2", REPO / "profiles" / "local", [])
    assert args[:2] == ["--cores", str(2 + 16 + 2 * cfg.llm.concurrency)] and args[2] == "--resources"
    given = dict(item.split("=") for item in args[3:])
    # gpu and lipsync_api: the profile's (lip-sync is off: no room is made in --cores for its jobs)
    assert given == {"video_api": "16", "llm_api": str(2 * cfg.llm.concurrency), "lipsync_api": "4", "gpu": "1", "cpu": "2"}


def test_cores_all_is_this_machines_and_a_bad_value_is_refused():
    import os

    import pytest

    from shortdrama.errors import ConfigError

    cpu = dict(item.split("=") for item in scheduling_arguments(load_config([]), "all", None, [])[3:])["cpu"]
    assert int(cpu) == len(os.sched_getaffinity(0))
    for bad in ("0", "two", "-1"):
        with pytest.raises(ConfigError, match="--cores must be a positive whole number or 'all'"):
            scheduling_arguments(load_config([]), bad, None, [])


def test_resources_the_user_passes_win_whole():
    cfg = load_config([])
    assert scheduling_arguments(cfg, "3", REPO / "profiles" / "local", ["--resources", "video_api=2"]) == ["--cores", "3"]
    assert scheduling_arguments(cfg, "3", None, ["--resources=video_api=2"]) == ["--cores", "3"]


def test_the_profile_is_found_in_snakemake_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative profile is the checkout's unless it names a folder here
    assert profile_of(["--profile", "profiles/local"], REPO) == REPO / "profiles/local"
    (tmp_path / "mine").mkdir()
    assert profile_of(["--profile", "mine"], REPO) == Path("mine")
    assert profile_of([f"--profile={tmp_path}"], REPO) == tmp_path
    assert profile_of(["--dry-run"], REPO) is None


def test_the_cpu_slot_holds_a_local_builds_cores_across_processes(tmp_path, monkeypatch):
    slots = ProviderSlots(tmp_path / "slots")
    monkeypatch.setenv(CPU_SLOTS_ENV, "1")
    with cpu_slot(slots):
        # The one core is taken: another process (here: another acquire) cannot have it now.
        import pytest

        from shortdrama.cost.slots import SlotTimeout
        with pytest.raises(SlotTimeout):
            with slots.acquire("cpu", 1, timeout_s=0.1):
                pass
    monkeypatch.delenv(CPU_SLOTS_ENV)
    with cpu_slot(slots), cpu_slot(slots):  # outside a local build: no limit
        pass
