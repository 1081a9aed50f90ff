"""Manifests and the check that reads them, on a small graph of real files (no Snakemake)."""

import json
import os

import pytest

from shortdrama.provenance import ExpectedJob, Manifest, ManifestStore, Stamp, check, keep_copy, remove_stale, stamp


@pytest.fixture
def series(tmp_path, monkeypatch):
    """results/demo with a keyframe -> clip -> final chain, each made by its "job" with a manifest."""
    monkeypatch.chdir(tmp_path)
    store = ManifestStore("results/demo")
    jobs = [
        ExpectedJob("generate_keyframe", ("results/demo/kf.png",), '{"action":"a"}'),
        ExpectedJob("generate_clip", ("results/demo/clip.mp4",), '{"prompt":"p"}', ("results/demo/kf.png",)),
        ExpectedJob("render_episode", ("results/demo/final.mp4",), '{"title":"t"}', ("results/demo/clip.mp4",)),
    ]
    for job, content in zip(jobs, (b"keyframe", b"clip", b"final")):
        run(store, job, content)
    return store, jobs


def run(store: ManifestStore, job: ExpectedJob, content: bytes) -> None:
    """What snakemake_glue.run_step does around a step."""
    record = store.begin(job.rule, job.spec, list(job.inputs), list(job.outputs))
    for output in job.outputs:
        os.makedirs(os.path.dirname(output), exist_ok=True)
        with open(output, "wb") as f:
            f.write(content)
    store.finish(record, list(job.outputs))


def reasons(findings) -> dict[str, str]:
    return {job.outputs[0].rsplit("/", 1)[1]: f.line(job.outputs[0]).split(": ", 1)[1]
            for job, f in findings.items() if f.stale}


def test_a_consistent_series_has_no_findings(series):
    store, jobs = series
    assert check(jobs, store) == {}
    manifest = store.read("results/demo/clip.mp4")
    assert manifest.rule == "generate_clip" and manifest.spec == '{"prompt":"p"}'
    assert set(manifest.inputs) == {"results/demo/kf.png"}
    assert manifest.outputs["results/demo/clip.mp4"].sha256 == stamp("results/demo/clip.mp4").sha256
    assert store.path_for("results/demo/clip.mp4") == store.root / ".manifests" / "clip.mp4.json"


def test_a_missing_intermediate_makes_every_reader_stale(series):
    store, jobs = series
    os.unlink("results/demo/kf.png")
    assert reasons(check(jobs, store)) == {
        "kf.png": "missing",
        "clip.mp4": "its input results/demo/kf.png is out of date",
        "final.mp4": "its input results/demo/clip.mp4 is out of date",
    }


def test_a_replaced_output_is_found_by_content_even_with_its_old_mtime(series):
    store, jobs = series
    info = os.stat("results/demo/clip.mp4")
    with open("results/demo/clip.mp4", "wb") as f:
        f.write(b"CLIP")  # same size, other bytes
    os.utime("results/demo/clip.mp4", ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    findings = check(jobs, store)
    clip = next(f for job, f in findings.items() if job.rule == "generate_clip")
    assert clip.edited == {"results/demo/clip.mp4": True}
    assert "replaced or edited by hand" in clip.reason
    assert reasons(findings)["final.mp4"] == "its input results/demo/clip.mp4 is out of date"


def test_trusting_size_and_mtime_can_be_switched_off(series):
    store, jobs = series
    info = os.stat("results/demo/final.mp4")
    with open("results/demo/final.mp4", "wb") as f:
        f.write(b"FINAL")
    os.utime("results/demo/final.mp4", ns=(info.st_atime_ns, info.st_mtime_ns))
    assert check(jobs, store) == {}, "same size and mtime: taken as unchanged (like make and git)"
    assert reasons(check(jobs, store, trust_stat=False)) == {
        "final.mp4": "changed since render_episode made it (results/demo/final.mp4 replaced or edited by hand)"}


def test_changed_settings_name_the_keys_that_changed(series):
    store, jobs = series
    edited = [jobs[0].__class__(jobs[0].rule, jobs[0].outputs, '{"action":"b"}'), *jobs[1:]]
    assert reasons(check(edited, store)) == {
        "kf.png": "made with other settings (changed: action)",
        "clip.mp4": "its input results/demo/kf.png is out of date",
        "final.mp4": "its input results/demo/clip.mp4 is out of date",
    }


def test_an_input_changed_under_a_reader_is_found(series):
    store, jobs = series
    with open("results/demo/kf.png", "wb") as f:
        f.write(b"another keyframe")
    found = reasons(check(jobs[1:], store))  # the keyframe's own job left out: its reader still notices
    assert found == {"clip.mp4": "its input results/demo/kf.png changed since it was made",
                     "final.mp4": "its input results/demo/clip.mp4 is out of date"}


def test_a_job_that_never_finished_is_not_vouched_for(series):
    store, jobs = series
    store.begin("generate_clip", jobs[1].spec, list(jobs[1].inputs), list(jobs[1].outputs))  # killed after this
    assert reasons(check(jobs, store))["clip.mp4"] == "generate_clip started making it and did not finish"


def test_an_output_with_no_manifest_is_not_vouched_for_but_a_document_is_the_users(series, tmp_path):
    store, jobs = series
    store.forget("results/demo/clip.mp4")
    assert reasons(check(jobs, store))["clip.mp4"] == "no record of how it was made: generate_clip did not write it"
    script = ExpectedJob("write_episode_script", ("results/demo/script.json",), "{}", editable=True)
    (tmp_path / "results/demo/script.json").write_text("{}")
    finding = check([script], store)[script]
    assert not finding.stale and finding.edited == {"results/demo/script.json": True}


def test_an_edited_document_is_stale_only_when_its_writer_would_rewrite_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = ManifestStore("results/demo")
    outline = ExpectedJob("write_outline", ("results/demo/outline.json",), '{"brief":1}', editable=True)
    script = ExpectedJob("write_episode_script", ("results/demo/s.json",), '{"brief":1}', (outline.outputs[0],),
                         editable=True)
    run(store, outline, b"outline")
    run(store, script, b"script")
    with open("results/demo/s.json", "w") as f:
        f.write("script edited by hand")
    found = check([outline, script], store)
    assert not found[script].stale and found[script].reason == "edited by hand since the writer made it"
    with open("results/demo/outline.json", "w") as f:
        f.write("outline edited by hand")
    found = check([outline, script], store)
    assert not found[outline].stale
    assert found[script].stale and found[script].edited == {"results/demo/s.json": True}
    assert found[script].reason == "its input results/demo/outline.json changed since it was made"


def test_remove_stale_deletes_what_a_job_made_and_keeps_what_a_person_put_there(series):
    store, jobs = series
    with open("results/demo/clip.mp4", "wb") as f:
        f.write(b"a clip someone cut by hand")
    lines = remove_stale(check(jobs, store), store)
    kept = [name for name in os.listdir("results/demo") if name.startswith("clip.edited-")]
    assert len(kept) == 1 and open(f"results/demo/{kept[0]}", "rb").read() == b"a clip someone cut by hand"
    assert not os.path.exists("results/demo/clip.mp4") and not os.path.exists("results/demo/final.mp4")
    assert os.path.exists("results/demo/kf.png"), "the keyframe still matches: kept"
    assert store.read("results/demo/final.mp4") is None
    assert len(lines) == 2 and "kept as results/demo/clip.edited-" in lines[0]


def test_keep_copy_keeps_one_copy_per_content(tmp_path):
    doc = tmp_path / "script.json"
    doc.write_text("edit 1")
    first = keep_copy(doc)
    assert keep_copy(doc) == first and first.read_text() == "edit 1"
    doc.write_text("edit 2")
    import time

    time.sleep(1.1)  # names carry the second
    second = keep_copy(doc)
    assert second != first and second.read_text() == "edit 2" and doc.read_text() == "edit 2"


def test_a_damaged_manifest_is_no_manifest(series):
    store, jobs = series
    store.path_for("results/demo/clip.mp4").write_text("{not json")
    assert store.read("results/demo/clip.mp4") is None
    assert "no record" in reasons(check(jobs, store))["clip.mp4"]


def test_manifest_round_trip():
    manifest = Manifest(rule="r", spec='{"a":1}', inputs={"i": Stamp("ab", 1, 2)}, outputs=None, started="t")
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert json.loads(manifest.to_json())["outputs"] is None


def test_a_digest_computed_once_is_not_computed_again_after_a_touch(tmp_path, monkeypatch):
    """Snakemake touches every output after its job, so the mtime a manifest records is never the final
    one: the first check hashes the file and keeps the digest (KNOWN_STAMPS), the next build's checks only
    stat it; a real change of content is still seen."""
    import os

    from shortdrama import provenance
    from shortdrama.provenance import ManifestStore, Stamp

    out = tmp_path / "results" / "demo" / "clip.mp4"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"clip")
    recorded = provenance.stamp(out, trust_stat=False)
    os.utime(out, ns=(recorded.mtime_ns + 66_000_000, recorded.mtime_ns + 66_000_000))  # Snakemake's touch
    hashed = []
    real_digest = provenance.file_digest
    monkeypatch.setattr(provenance, "file_digest", lambda path: hashed.append(path) or real_digest(path))

    store = ManifestStore("results/demo", tmp_path)
    first = store.current("results/demo/clip.mp4", recorded)
    assert first.sha256 == recorded.sha256 and len(hashed) == 1
    store.save_known_stamps()
    again = ManifestStore("results/demo", tmp_path).current("results/demo/clip.mp4", recorded)
    assert again == first and len(hashed) == 1  # stat only
    assert ManifestStore("results/demo", tmp_path).current("results/demo/clip.mp4", recorded, trust_stat=False)
    assert len(hashed) == 2  # --rehash hashes anyway
    out.write_bytes(b"other")
    changed = ManifestStore("results/demo", tmp_path).current("results/demo/clip.mp4", recorded)
    assert isinstance(changed, Stamp) and changed.sha256 != recorded.sha256
