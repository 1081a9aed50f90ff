"""The hooks around a real build: a green whole build has verified every output (rules/hooks.smk)."""

import pytest

from shortdrama import build_hooks
from shortdrama.config import load_config
from shortdrama.workflow import Workflow


def test_a_whole_build_that_leaves_an_output_unverified_ends_in_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    wf = Workflow(load_config(["series.episodes=1"]), [], checkout=tmp_path)
    (tmp_path / "results/demo").mkdir(parents=True)
    (tmp_path / "results/demo/config.yaml").write_text("series: {}\n")  # made by nobody: no manifest
    with pytest.raises(SystemExit) as stopped:
        build_hooks.on_success(wf, tmp_path)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert "shortdrama: results/demo/config.yaml: no record of how it was made: record_config did not write it" in err
    assert "shortdrama: results/demo/outline.json: missing" in err
    assert err[-1].startswith("shortdrama: error: the build finished, but 3 output(s) listed above do not match")


def test_a_partial_build_is_not_held_to_the_whole_series(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    wf = Workflow(load_config(["series.episodes=1"]), [], checkout=tmp_path)
    build_hooks.on_success(wf, tmp_path, whole_series=False)  # e.g. `snakemake results/demo/outline.json`
    assert capsys.readouterr().err == ""
