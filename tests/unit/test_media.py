import pytest

from shortdrama.media import atomic_output, write_text_atomic
from shortdrama.workflow import Workflow


def test_atomic_output_leaves_nothing_under_the_real_name_on_failure(tmp_path):
    target = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half a clip")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("new")
            raise RuntimeError
    assert target.read_text() == "old"
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_series_name_never_escapes_results():
    wf = Workflow.from_snakemake_config({"series__name": "../../x"})
    assert all(path.startswith("results/x/") for path in wf.final_targets())
