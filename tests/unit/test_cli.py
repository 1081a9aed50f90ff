"""The CLI's conventions (version, exit codes, -d everywhere, no chdir, `python -m snakemake`) and what a job
shows on the terminal (one line per finished job, LoRA steps, hosted video states). No Snakemake build here:
tests/integration/test_build.py runs one through the CLI."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from shortdrama import cli, snakemake_glue
from shortdrama.cli import main
from shortdrama.cost.ledger import Ledger, LedgerEntry
from shortdrama.errors import ConfigError, ProviderError, ShortDramaError

COMMANDS = {  # every command, with the arguments it needs besides -d
    "build": [], "plan": [], "costs": [], "sweep": ["video=still,animatic"], "cache": ["stats"],
    "check-references": [], "verify": [], "config": [], "schema": ["out"], "qc": [], "review": [], "report": [],
    "export": ["--format", "otio"], "import-edit": ["edited.otio"],
}


# -- version, usage, exit codes --------------------------------------------------------------------

def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"shortdrama {importlib.metadata.version('shortdrama')}\n"
    import shortdrama

    assert shortdrama.__version__ == importlib.metadata.version("shortdrama")


def test_the_console_script_prints_the_version():
    cli_path = Path(sys.executable).with_name("shortdrama")
    proc = subprocess.run([str(cli_path), "--version"], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"shortdrama {importlib.metadata.version('shortdrama')}")


@pytest.mark.parametrize("argv", [[], ["nope"], ["build", "--no-such-flag"], ["cache", "sideways"],
                                  ["check-references", "--min-count", "many"], ["schema"]])
def test_argparse_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: shortdrama" in capsys.readouterr().err


def test_a_bad_override_is_a_usage_error(capsys):
    assert main(["config", "series.nope=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shortdrama: error: series.nope=1: unknown key 'series.nope'") and err.count("\n") == 1


@pytest.mark.parametrize("raised, code", [
    (ConfigError("video=foo: unknown video option"), 2),
    (cli.UsageError("no ledger at x: build the series first"), 2),
    (ProviderError("kling: 500 Internal Server Error"), 1),
    (ShortDramaError("the build finished, but 1 output(s) do not match"), 1),
])
def test_errors_map_to_exit_codes(monkeypatch, capsys, raised, code):
    def command(args):
        raise raised

    monkeypatch.setattr(cli, "_config", command)
    assert main(["config"]) == code
    assert capsys.readouterr().err == f"shortdrama: error: {raised}\n"


def test_ctrl_c_exits_130_without_a_traceback(monkeypatch, capsys):
    def command(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_config", command)
    assert main(["config"]) == 130
    assert capsys.readouterr().err == "shortdrama: interrupted\n"


def test_costs_without_a_ledger_is_a_usage_error(tmp_path, capsys):
    assert main(["costs", "-d", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"shortdrama: error: no ledger at {tmp_path}/results/demo/ledger.jsonl")


# -- every command: -d, a function of its own, no chdir --------------------------------------------

def test_every_command_takes_a_work_directory_and_its_own_function():
    parser = cli._parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - the parser's own table
    assert set(commands) == set(COMMANDS), "a new command needs a line in COMMANDS"
    functions = set()
    for name, rest in COMMANDS.items():
        for flag in ("-d", "--directory"):
            args = parser.parse_args([name, flag, "some/where", *rest])
            assert args.directory == Path("some/where")
        functions.add(args.func)
    assert len(functions) == len(COMMANDS)


def test_the_cli_never_changes_directory():
    source = Path(cli.__file__).read_text(encoding="utf-8")
    assert "chdir(" not in source, "plan and verify take the work dir (Workflow.workdir) instead"


def test_cache_reads_a_relative_cache_dir_from_the_work_dir(tmp_path, capsys):
    here = Path.cwd()
    assert main(["cache", "stats", "-d", str(tmp_path), "cache.dir=store"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'store'}: 0 entries, 0.0 MB\n"
    assert Path.cwd() == here


def test_schema_writes_a_relative_out_dir_into_the_work_dir(tmp_path, capsys):
    here = Path.cwd()
    assert main(["schema", "-d", str(tmp_path), "schemas"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed and all(Path(p).parent == tmp_path / "schemas" and Path(p).is_file() for p in printed)
    assert Path.cwd() == here


# -- build: python -m snakemake, Snakemake's exit code, the closing lines ---------------------------

def test_snakemake_runs_as_a_module_of_this_interpreter(monkeypatch, tmp_path):
    seen = {}

    def run(cmd, **kwargs):
        seen.update(cmd=cmd, env=kwargs.get("env"))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(cli.subprocess, "run", run)
    cli.snakemake(tmp_path / "checkout", tmp_path / "work", ["video=still"], "3", ["--dry-run"])
    assert seen["cmd"][:3] == [sys.executable, "-m", "snakemake"]
    assert seen["cmd"][3:] == ["-s", str(tmp_path / "checkout" / "Snakefile"), "-d", str(tmp_path / "work"),
                               "--cores", "3", "--dry-run", "--config", 'overrides=["video=still"]']
    assert seen["env"] is None  # the environment is inherited


def _fake_build(monkeypatch, code: int, spend: list[float]):
    """cli.snakemake replaced by a "build" that appends `spend` to the series' ledger and returns `code`."""
    def fake(workflow_dir, workdir, overrides, cores, extra=(), capture=False, env=None):
        ledger = Ledger(Path(workdir) / "results" / "demo" / "ledger.jsonl")
        for cost in spend:
            ledger.append(_entry(cost))
        return subprocess.CompletedProcess([], code)

    monkeypatch.setattr(cli, "snakemake", fake)


def _entry(cost: float, cache: str = "miss") -> LedgerEntry:
    from shortdrama.cost.ledger import utc_now

    return LedgerEntry(time=utc_now(), rule="generate_clip", step="clip", provider="fake_paid", model="m", key="k",
                       cache=cache, estimate_usd=cost, cost_usd=cost, duration_s=0.1, outcome="ok", episode=1, scene=1)


def test_a_failed_build_returns_snakemakes_code_and_says_what_it_spent(monkeypatch, tmp_path, capsys):
    old = Ledger(tmp_path / "results" / "demo" / "ledger.jsonl")
    old.append(LedgerEntry(time="2020-01-01T00:00:00.000+00:00", rule="write_outline", step="outline", provider="p",
                           model="m", key="k0", cache="miss", estimate_usd=9.0, cost_usd=9.0, duration_s=1.0,
                           outcome="ok"))  # an earlier build's spend is not this build's
    _fake_build(monkeypatch, 1, [0.25, 0.25])
    assert main(["build", "-d", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("shortdrama: the build failed (Snakemake exit code 1) after ")
    assert "; spent $0.50 on 2 provider call(s), 0 answered by the cache" in err
    assert err.rstrip().endswith(f"the lines above and {tmp_path / 'logs'} say why")


def test_a_good_build_lists_the_episodes_and_what_it_spent(monkeypatch, tmp_path, capsys):
    _fake_build(monkeypatch, 0, [])
    (tmp_path / "results" / "demo").mkdir(parents=True)
    (tmp_path / "results" / "demo" / "episode_01_final.mp4").write_bytes(b"")
    assert main(["build", "-d", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("1 episode(s) of ") and lines[1].strip() == str(
        tmp_path / "results" / "demo" / "episode_01_final.mp4")
    assert lines[2].startswith("built in ") and lines[2].endswith(
        f"s; spent $0.00 on 0 provider call(s), 0 answered by the cache "
        f"(ledger: {tmp_path / 'results' / 'demo' / 'ledger.jsonl'})")


def test_a_dry_run_adds_nothing(monkeypatch, tmp_path, capsys):
    _fake_build(monkeypatch, 0, [])
    assert main(["build", "-n", "-d", str(tmp_path)]) == 0
    assert capsys.readouterr() == ("", "")


# -- check-references: the configured rules --------------------------------------------------------

def _photos(folder: Path, count: int, size: tuple[int, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        blocks = np.random.default_rng(i).integers(0, 256, (8, 6, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize(size, Image.Resampling.BICUBIC).save(folder / f"ref_{i:02d}.jpg", quality=80)
    return folder


@pytest.fixture(scope="module")
def photos_600(tmp_path_factory) -> Path:
    """Ten distinct photos of 600x800: enough for lora=sd15 (512 px), too small for lora=sdxl (768 px)."""
    return _photos(tmp_path_factory.mktemp("refs"), 10, (600, 800))


def _cast(folder: Path) -> list[str]:
    return [f"series.cast.xiaoyu.references=['{folder}']"]


def test_check_references_applies_the_configured_sdxl_rules(photos_600, capsys):
    assert main(["check-references", "lora=sdxl", "image=sdxl", *_cast(photos_600)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ("each character needs 10 usable reference images, short side at least 768 px "
                                   "(lora.min_references, lora.min_short_side)")
    assert "ref_00.jpg (600x800 is under 768 px on the short side)" in err
    assert "xiaoyu: ok" not in out


def test_check_references_passes_what_sd15_training_accepts(photos_600, capsys):
    assert main(["check-references", "lora=sd15", "image=sd15", *_cast(photos_600)]) == 0
    out, _ = capsys.readouterr()
    assert "short side at least 512 px" in out and "xiaoyu: ok, 10 usable reference images" in out


def test_check_references_flags_still_override(photos_600, capsys):
    assert main(["check-references", "--min-short-side", "512", "lora=sdxl", "image=sdxl", *_cast(photos_600)]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[0] == ("each character needs 10 usable reference images, short side at least 512 px "
                                   "(--min-short-side)")
    assert main(["check-references", "--min-count", "11", "--min-short-side", "512", *_cast(photos_600)]) == 1
    assert "10 usable of the 11 needed" in capsys.readouterr().err


# -- run_step: the job's line on the terminal ------------------------------------------------------

class _Named(dict):
    """Enough of snakemake.io.Namedlist for run_step: named items, iteration over the values."""

    def __iter__(self):
        return iter(self.values())

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _smk(tmp_path: Path, rule: str = "generate_clip", **wildcards: str) -> SimpleNamespace:
    """A job's `snakemake` object; the wildcards are the series and `wildcards`."""
    out = "results/demo/out.txt"  # relative to the job's folder, as Snakemake names outputs
    return SimpleNamespace(rule=rule, log=[str(tmp_path / "job.log")],
                           wildcards=_Named(series="demo", **wildcards),
                           input=_Named(), output=_Named(out=out), params=SimpleNamespace(spec="{}"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # run_step names the manifests relative to the job's folder, as Snakemake runs it
    yield tmp_path
    logging.basicConfig(force=True, handlers=[logging.NullHandler()])  # close the job log run_step opened


def _write(path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("made")


def test_a_finished_job_prints_one_line_with_time_and_dollars(in_tmp, capfd):
    smk = _smk(in_tmp, ep="01", sc="02")
    ledger = Ledger(in_tmp / "results" / "demo" / "ledger.jsonl")

    def step(out):
        ledger.append(_entry(0.25))
        ledger.append(_entry(0.25))
        _write(out)

    original = Ledger.append
    snakemake_glue.run_step(smk, step, smk.output.out)
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("shortdrama: done generate_clip ep01 sc02 in ") and err[0].endswith(" s, $0.50")
    assert Ledger.append is original, "the hook is removed after the job"
    assert "done in" in (in_tmp / "job.log").read_text()


def test_a_job_without_provider_calls_and_one_from_the_cache(in_tmp, capfd):
    smk = _smk(in_tmp, rule="render_episode", ep="01")
    snakemake_glue.run_step(smk, lambda out: _write(out), smk.output.out)
    [line] = capfd.readouterr().err.splitlines()
    assert line.startswith("shortdrama: done render_episode ep01 in ") and line.endswith(" s")

    smk = _smk(in_tmp, rule="write_outline")
    ledger = Ledger(in_tmp / "results" / "demo" / "ledger.jsonl")
    snakemake_glue.run_step(smk, lambda out: (ledger.append(_entry(0.0, cache="hit")), _write(out)), smk.output.out)
    [line] = capfd.readouterr().err.splitlines()
    assert line.startswith("shortdrama: done write_outline in ") and line.endswith(" s, $0.00 from the cache")


def test_a_failed_job_prints_its_error_only_and_unhooks_the_ledger(in_tmp, capfd):
    original = Ledger.append
    smk = _smk(in_tmp, ep="01", sc="02")

    def step(out):
        raise ProviderError("kling: content policy")

    with pytest.raises(SystemExit) as info:
        snakemake_glue.run_step(smk, step, smk.output.out)
    assert info.value.code == 1
    err = capfd.readouterr().err.splitlines()
    assert err == ["shortdrama: generate_clip{'series': 'demo', 'ep': '01', 'sc': '02'}: kling: content policy"]
    assert Ledger.append is original


def test_progress_records_reach_the_terminal_with_the_jobs_name_not_the_log(in_tmp, capfd):
    smk = _smk(in_tmp, rule="train_character_lora", character="xiaoyu")

    def step(out):
        logging.getLogger("shortdrama.progress.lora").info("step %d/%d loss %.4f eta %ds", 40, 100, 0.1234, 12)
        logging.getLogger("shortdrama.lora.train").info("a detail for the log only")
        _write(out)

    snakemake_glue.run_step(smk, step, smk.output.out)
    err = capfd.readouterr().err.splitlines()
    assert err[0] == "shortdrama: train_character_lora xiaoyu: step 40/100 loss 0.1234 eta 12s"
    assert err[1].startswith("shortdrama: done train_character_lora xiaoyu in ") and len(err) == 2
    log_text = (in_tmp / "job.log").read_text()
    assert "a detail for the log only" in log_text and "step 40/100" not in log_text
    progress = logging.getLogger("shortdrama.progress")
    assert progress.handlers == [] and progress.propagate, "the terminal handler is removed after the job"


# -- LoRA training: throttled step lines -----------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory, one_thread):  # built in code: nothing is downloaded
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from shortdrama.testing.tiny_sd import build_tiny_sd_model
    except ImportError:  # before the test helpers moved to shortdrama.testing
        from shortdrama.lora.tiny import build_tiny_sd_model
    model = build_tiny_sd_model(tmp_path_factory.mktemp("tiny-sd") / "model", seed=0)
    images = _photos(tmp_path_factory.mktemp("lora-refs"), 4, (64, 64))
    return model, sorted(images.iterdir())


def _train(tiny_sd, out: Path, caplog) -> tuple[list[str], list[str], list[float]]:
    from shortdrama.lora.settings import LoraSettings
    from shortdrama.lora.train import train_lora

    model, images = tiny_sd
    settings = LoraSettings(rank=4, alpha=4, steps=4, resolution=32, learning_rate=5e-3, checkpoint_every=4, seed=0)
    logged: list[str] = []
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="shortdrama.progress.lora"):
        result = train_lora(model, images, ["photo of sks_lin"] * len(images), out, settings, log=logged.append,
                            device="cpu")
    shown = [r.getMessage() for r in caplog.records if r.name == "shortdrama.progress.lora"]
    return shown, logged, result.losses


def test_lora_training_shows_steps_at_most_every_few_seconds(tiny_sd, tmp_path, monkeypatch, caplog):
    from shortdrama.lora import train

    monkeypatch.setattr(train, "TERMINAL_EVERY_S", 3600.0)
    shown, logged, losses = _train(tiny_sd, tmp_path / "slow", caplog)
    assert shown[0] == "training SD 1.x LoRA, 4 images, steps 0->4, cpu"
    assert len(shown) == 2 and shown[1].startswith("step 4/4 loss ") and shown[1].endswith(" eta 0s")
    # The job's log still gets its step lines (every 50th of the run: here every step).
    assert [line.split()[1] for line in logged if line.startswith("step ")] == ["1/4", "2/4", "3/4", "4/4"]

    monkeypatch.setattr(train, "TERMINAL_EVERY_S", 0.0)
    every, _, same_losses = _train(tiny_sd, tmp_path / "fast", caplog)
    assert [line.split()[1] for line in every[1:]] == ["1/4", "2/4", "3/4", "4/4"]
    assert same_losses == losses, "showing progress changes nothing the training computes"


# -- hosted video: state changes, not polls --------------------------------------------------------

def _video_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shortdrama.progress.video"]


def test_a_hosted_job_shows_each_state_once(tmp_path, monkeypatch, caplog):
    from fakes.video_server import Behaviour, FakeVideoServer, Script
    from shortdrama.http import RetryPolicy
    from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
    from shortdrama.video.vendors.base import JobRequest, VendorModel
    from shortdrama.video.vendors.gateway import ADAPTER as GATEWAY

    key = "sk-test-5f3b9c1d2e"
    monkeypatch.setenv("FAKE_VIDEO_API_KEY", key)
    fast = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
    job = JobRequest(key="clip-0001", prompt="Mara opens the letter", duration=2.0, width=720, height=1280, fps=24,
                     seed=7, reference_image=None)
    with caplog.at_level(logging.INFO, logger="shortdrama.progress.video"), \
            FakeVideoServer(Script(default=Behaviour(processing_polls=4)), api_key=key) as server:
        engine = JobEngine((ChainEntry(GATEWAY, VendorModel(server.base_url, "model-a", "FAKE_VIDEO_API_KEY")),),
                           EngineSettings(poll_interval_s=0.01, job_timeout_s=10.0, retry=fast,
                                          duration_tolerance_s=0.25), tmp_path / "jobs")
        result = engine.generate(job, tmp_path / "clip.mp4")
    assert len(server.polls) == 5
    lines = _video_lines(caplog)
    assert [line.split(" at ")[0] for line in lines] == [
        f"video model-a: submitted job {result.job_id}",
        f"video model-a: job {result.job_id} queued",
        f"video model-a: job {result.job_id} processing",
        f"video model-a: job {result.job_id} succeeded (completed)",
    ]
    assert all(key not in line for line in lines)


def test_a_vendors_progress_figure_is_shown_at_most_every_interval(tmp_path, monkeypatch, caplog):
    from shortdrama.video import jobs
    from shortdrama.video.vendors.base import JobState

    engine = jobs.JobEngine.__new__(jobs.JobEngine)
    engine._secrets = ("sk-secret-value",)  # noqa: SLF001
    rec, shown = {"job_id": "t-1"}, jobs._Shown()  # noqa: SLF001
    states = [JobState("pending", "PENDING"), JobState("pending", "RUNNING 10%"), JobState("pending", "RUNNING 20%"),
              JobState("pending", "RUNNING 30% \x1b[2J sk-secret-value"), JobState("succeeded", "SUCCEEDED")]
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_S", 3600.0)
    with caplog.at_level(logging.INFO, logger="shortdrama.progress.video"):
        for elapsed, state in enumerate(states):
            engine._show_state("gen4_turbo", rec, state, shown, float(elapsed * 10))  # noqa: SLF001
        monkeypatch.setattr(jobs, "PROGRESS_EVERY_S", 0.0)
        later = JobState("pending", "RUNNING 50% \x1b[2J sk-secret-value")
        engine._show_state("gen4_turbo", rec, later, shown, 60.0)  # noqa: SLF001
    assert _video_lines(caplog) == [
        "video gen4_turbo: job t-1 PENDING at 0 s",
        "video gen4_turbo: job t-1 RUNNING 10% at 10 s",
        "video gen4_turbo: job t-1 succeeded (SUCCEEDED) at 40 s",
        "video gen4_turbo: job t-1 RUNNING 50% ?[2J *** at 60 s",
    ]


def test_ledger_entries_seen_once_even_when_appended_to_two_ledgers(tmp_path):
    entry = _entry(0.5)
    with snakemake_glue._ledger_entries() as seen:  # noqa: SLF001
        Ledger(tmp_path / "a" / "ledger.jsonl").append(entry)
        Ledger(tmp_path / "b" / "ledger.jsonl").append(entry)  # a sweep point's own ledger and the sweep's
    assert seen == [entry]
    assert json.loads((tmp_path / "b" / "ledger.jsonl").read_text())["cost_usd"] == 0.5
