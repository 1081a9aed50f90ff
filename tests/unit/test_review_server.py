"""`shortdrama review --serve` (shortdrama.review.server), driven over real HTTP on 127.0.0.1 against a
tiny fabricated series: who may read and write, what a write changes, byte ranges, the rebuild."""

import http.client
import json
import sys
import threading
import time

import pytest
import yaml

from shortdrama.cli import main
from shortdrama.config import load_config
from shortdrama.errors import UsageError
from shortdrama.review.server import byte_range, listen_address, start
from shortdrama.review.site import Refused
from shortdrama.schemas import write_document
from shortdrama.workflow import Workflow
from shortdrama.writers.base import SeriesBrief
from shortdrama.writers.offline import OfflineWriter

TINY = ["series.episodes=2", "series.scenes_per_episode.min=2", "series.scenes_per_episode.max=2", "takes=2"]
VIDEO = bytes(range(256)) * 64  # what every "take" holds: 16 KiB whose bytes say where they are


@pytest.fixture(scope="module")
def cfg():
    return load_config(TINY)


def fabricate(root, cfg) -> Workflow:
    """Two episodes of two scenes as a build leaves them, for the page: scripts (the offline writer's),
    keyframes, two takes per scene and their selection records."""
    wf = Workflow(cfg, [], checkout=root / "checkout", workdir=root / "work")
    wf.checkout.mkdir()
    brief = SeriesBrief.from_config(cfg)
    outline = OfflineWriter().write_outline(brief)
    for ep in wf.episodes:
        write_document(OfflineWriter().write_episode(brief, outline, outline.episodes[int(ep) - 1]),
                       wf.at(wf.paths.script(ep)))
        for sc in wf.scene_ids(wf.paths.script(ep)):
            wf.at(wf.paths.keyframe(ep, sc)).parent.mkdir(parents=True, exist_ok=True)
            wf.at(wf.paths.keyframe(ep, sc)).write_bytes(b"\x89PNG\r\n\x1a\n")
            takes = []
            for take in (1, 2):
                path = wf.at(wf.paths.take(ep, sc, take))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(VIDEO)
                takes.append({"take": take, "file": path.name, "retake": False, "passed": True, "score": 0.9, "flags": []})
            wf.at(wf.paths.selection(ep, sc)).write_text(json.dumps(
                {"chosen": 1, "file": takes[0]["file"], "retake": False, "flagged": False, "reason": "take 1 passed",
                 "by": "qc", "takes": takes}), encoding="utf-8")
    return wf


@pytest.fixture
def series(tmp_path, cfg):
    return fabricate(tmp_path, cfg)


@pytest.fixture
def served(series):
    server = start(series, [], command=[sys.executable, "-c", "print('1 of 2 steps (50%) done')"])
    yield server
    server.close()


class Client:
    def __init__(self, server):
        self.server, self.port = server, server.server_port
        self.cookie = f"{server.cookie_name}={server.site.token}"

    def request(self, method, path, body=None, headers=None, cookie=True):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        sent = {**({"Cookie": self.cookie} if cookie else {}), **(headers or {})}
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    def post(self, path, body, token=None, headers=None):
        token = self.server.site.token if token is None else token
        sent = {"Content-Type": "application/json", **({"X-Review-Token": token} if token else {}), **(headers or {})}
        response, data = self.request("POST", path, json.dumps(body), sent)
        return response.status, json.loads(data)


@pytest.fixture
def client(served):
    return Client(served)


def decisions_of(server):
    path = server.site.decisions
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None


# -- who may read, who may write --------------------------------------------------------------------

def test_the_printed_address_trades_its_token_for_a_cookie_and_the_page_carries_the_controls(served, client):
    assert served.url.startswith(f"http://127.0.0.1:{served.server_port}/review/?token=")
    assert client.request("GET", "/review/", cookie=False)[0].status == 403
    assert client.request("GET", "/review/?token=wrong", cookie=False)[0].status == 403
    response, _ = client.request("GET", served.url.split(str(served.server_port), 1)[1], cookie=False)
    assert response.status == 303 and response.getheader("Location") == "/review/"
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith(client.cookie + ";") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    response, page = client.request("GET", "/review/")
    html = page.decode()
    assert response.status == 200 and f'<meta name="review-token" content="{served.site.token}">' in html
    nonce = response.getheader("Content-Security-Policy").split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in html and "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
    for control in ['data-action="pick" data-ep="01" data-sc="02" data-take="2"', 'data-action="retake-note"',
                    'data-action="retake"', 'data-action="approve-keyframe"', 'data-action="edit-line" data-ep="01" '
                    'data-sc="01" data-line="0"', 'data-action="edit-action"', 'data-action="rebuild"', 'id="rebuild-status"']:
        assert control in html, control
    assert client.request("GET", "/")[0].getheader("Location") == "/review/"


def test_the_static_page_has_no_controls(series):
    from shortdrama.review.page import write_page

    html = write_page(series).read_text(encoding="utf-8")
    assert "data-action" not in html and "review-token" not in html and "fetch(" not in html


@pytest.mark.parametrize("gate", ["script", "keyframes"])
def test_a_gate_shows_what_awaits_approval_and_the_button_that_gives_it(tmp_path, gate):
    series = fabricate(tmp_path, load_config([*TINY, f"review.gate={gate}"]))
    server = start(series, [], command=[sys.executable, "-c", "pass"])
    try:
        client = Client(server)
        html = client.request("GET", "/review/")[1].decode()
        if gate == "script":
            assert 'data-state="script" data-ep="02">script awaiting approval' in html
            assert client.post("/api/script", {"ep": 2})[0] == 200
            html = client.request("GET", "/review/")[1].decode()
            assert 'data-state="script" data-ep="02">script approved' in html
            assert 'data-action="approve-script" data-ep="02"' not in html and 'data-action="approve-script" data-ep="01"' in html
        else:
            assert html.count('data-state="keyframe">awaiting approval') == 4
            assert client.post("/api/keyframe", {"ep": 1, "sc": 2})[0] == 200
            html = client.request("GET", "/review/")[1].decode()
            assert html.count('data-state="keyframe">awaiting approval') == 3
            assert 'data-action="approve-keyframe" data-ep="01" data-sc="02"' not in html
    finally:
        server.close()


@pytest.mark.parametrize("token", ["", "wrong"])
def test_a_post_without_the_runs_token_is_refused_and_writes_nothing(client, served, token):
    status, answer = client.post("/api/pick", {"ep": 1, "sc": 1, "take": 2}, token=token)
    assert status == 403 and "X-Review-Token" in answer["error"]
    assert not served.site.decisions.exists()


def test_another_host_or_origin_is_refused(client, served):
    port = served.server_port
    for host in ["evil.example:%d" % port, "127.0.0.1:%d" % (port + 1), "127.0.0.1", "localhost.evil.example:%d" % port]:
        assert client.request("GET", "/review/", headers={"Host": host})[0].status == 403, host
        assert client.post("/api/pick", {"ep": 1, "sc": 1, "take": 2}, headers={"Host": host})[0] == 403
    assert client.request("GET", "/review/", headers={"Host": f"localhost:{port}"})[0].status == 200
    assert client.post("/api/pick", {"ep": 1, "sc": 1, "take": 2}, headers={"Origin": "http://evil.example"})[0] == 403
    assert client.post("/api/pick", {"ep": 1, "sc": 1, "take": 2}, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert not served.site.decisions.exists()
    assert client.post("/api/pick", {"ep": 1, "sc": 1, "take": 2},
                       headers={"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"})[0] == 200


def test_files_are_served_from_the_series_folder_only(client, served, series, tmp_path):
    work = series.workdir
    (work / "results" / "secret.txt").write_text("not yours", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("not yours", encoding="utf-8")
    (work / "results" / "demo" / "ep01" / "link.txt").symlink_to(tmp_path / "outside.txt")
    (work / "results" / "demo" / ".hidden").write_text("no", encoding="utf-8")
    assert client.request("GET", "/ep01/clips/sc01/take01.mp4")[0].status == 200
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/ep01/../../secret.txt",
                 "/ep01/%2e%2e/%2e%2e/secret.txt", "//etc/passwd", "/etc/passwd", "/ep01/link.txt", "/.hidden",
                 "/%252e%252e/secret.txt", "/ep01\\..\\..\\secret.txt", "/%00", "/ep01/"]:
        response, body = client.request("GET", path)
        assert response.status == 404 and b"not yours" not in body, path


def test_a_byte_range_is_answered_with_206_and_those_bytes(client):
    path = "/ep01/clips/sc02/take02.mp4"
    response, body = client.request("GET", path, headers={"Range": "bytes=10-19"})
    assert response.status == 206 and body == VIDEO[10:20]
    assert response.getheader("Content-Range") == f"bytes 10-19/{len(VIDEO)}" and response.getheader("Content-Type") == "video/mp4"
    assert client.request("GET", path, headers={"Range": "bytes=-5"})[1] == VIDEO[-5:]
    assert client.request("GET", path, headers={"Range": f"bytes={len(VIDEO) - 3}-"})[1] == VIDEO[-3:]
    assert client.request("GET", path, headers={"Range": "bytes=0-999999"})[1] == VIDEO
    response, body = client.request("GET", path, headers={"Range": f"bytes={len(VIDEO)}-"})
    assert response.status == 416 and response.getheader("Content-Range") == f"bytes */{len(VIDEO)}"
    response, body = client.request("GET", path, headers={"Range": "bytes=0-1,5-6"})
    assert response.status == 200 and body == VIDEO, "several ranges: the whole file"
    response, body = client.request("GET", path)
    assert response.status == 200 and body == VIDEO and response.getheader("Accept-Ranges") == "bytes"
    assert client.request("GET", path, headers={"If-None-Match": response.getheader("ETag")})[0].status == 304
    response, body = client.request("HEAD", path, headers={"Range": "bytes=0-9"})
    assert response.status == 206 and body == b"" and response.getheader("Content-Length") == "10"


def test_byte_range_parsing():
    assert byte_range("bytes=0-0", 10) == (0, 0) and byte_range("bytes=3-", 10) == (3, 9)
    assert byte_range("bytes=-20", 10) == (0, 9) and byte_range("items=0-1", 10) is None
    assert byte_range("bytes=5-2", 10) is None and byte_range("bytes=-", 10) is None
    with pytest.raises(Refused):
        byte_range("bytes=-0", 10)


# -- what a write changes ---------------------------------------------------------------------------

def test_pick_retake_and_approvals_write_the_decisions_file(client, served):
    assert client.post("/api/pick", {"ep": 1, "sc": 2, "take": 2, "by": "lin"}) == (200, {"ok": True, "message": "ep01 sc02: take 2 picked"})
    assert client.post("/api/retake", {"ep": 1, "sc": 2, "note": "tighter on her face"})[0] == 200
    status, answer = client.post("/api/retake", {"ep": 1, "sc": 2, "note": "Tighter on her face"})
    assert status == 400 and "already asked" in answer["error"]
    assert client.post("/api/keyframe", {"ep": 2, "sc": 1})[0] == 200
    assert client.post("/api/script", {"ep": 2})[0] == 200
    data = decisions_of(served)
    assert data["ep01"]["sc02"]["take"] == 2 and data["ep01"]["sc02"]["retake"] == "tighter on her face"
    assert data["ep02"] == {"script": "approved", "sc01": {"keyframe": "approved", "at": data["ep02"]["sc01"]["at"]}}
    assert client.post("/api/pick", {"ep": 1, "sc": 2, "take": 3})[0] == 200, "a retake note makes take 3 pickable"
    html = client.request("GET", "/review/")[1].decode()
    assert "take 3 picked" in html and "retake asked: tighter on her face" in html and "script approved" in html
    assert client.post("/api/pick", {"ep": 1, "sc": 2, "take": None})[0] == 200
    assert "take" not in decisions_of(served)["ep01"]["sc02"]
    assert 'data-action="withdraw-retakes"' in html
    assert client.post("/api/withdraw-retakes", {"ep": 1, "sc": 2}) == (
        200, {"ok": True, "message": "ep01 sc02: retake notes withdrawn"})
    assert "retake" not in decisions_of(served).get("ep01", {}).get("sc02", {})


@pytest.mark.parametrize("action, body, message", [
    ("pick", {"ep": 3, "sc": 1, "take": 1}, "the series has 2 episode(s); there is no episode 3"),
    ("pick", {"ep": 1, "sc": 3, "take": 1}, "episode 1 has 2 scene(s); there is no scene 3"),
    ("pick", {"ep": 1, "sc": 1, "take": 3}, "take 3 does not exist (the scene has takes 1-2"),
    ("pick", {"ep": 1, "sc": 1, "take": 0}, "take: Input should be greater than or equal to 1"),
    ("pick", {"ep": "1", "sc": 1, "take": 1}, "ep: Input should be a valid integer"),
    ("pick", {"ep": 1, "sc": 1}, "take: Field required"),
    ("pick", {"ep": 1, "sc": 1, "take": 1, "path": "/etc/passwd"}, "path: Extra inputs are not permitted"),
    ("retake", {"ep": 1, "sc": 1, "note": " "}, "blank"),
    ("keyframe", {"ep": 0, "sc": 1}, "ep: Input should be greater than or equal to 1"),
    ("dialogue", {"ep": 1, "sc": 1, "line": 99, "text": "Hello."}, "there is no line 99"),
    ("dialogue", {"ep": 1, "sc": 1, "line": 0, "text": "  "}, "blank"),
    ("action", {"ep": 2, "sc": 9, "text": "She runs."}, "there is no scene 9"),
])
def test_what_the_series_does_not_have_is_400_and_nothing_is_written(client, served, series, action, body, message):
    scripts = {ep: series.at(series.paths.script(ep)).read_bytes() for ep in series.episodes}
    status, answer = client.post(f"/api/{action}", body)
    assert status == 400 and message in answer["error"] and "\n" not in answer["error"]
    assert not served.site.decisions.exists()
    assert {ep: series.at(series.paths.script(ep)).read_bytes() for ep in series.episodes} == scripts


def test_an_unknown_action_or_a_bad_body_is_refused(client):
    assert client.post("/api/delete", {})[0] == 404
    response, data = client.request("POST", "/api/pick", "not json", {"Content-Type": "application/json",
                                                                      "X-Review-Token": client.server.site.token})
    assert response.status == 400
    response, _ = client.request("POST", "/api/pick", "{}", {"Content-Type": "text/plain",
                                                             "X-Review-Token": client.server.site.token})
    assert response.status == 415


def test_dialogue_and_action_edits_land_in_that_episodes_script(client, series):
    path = series.at(series.paths.script("02"))
    before = json.loads(path.read_text(encoding="utf-8"))
    assert client.post("/api/dialogue", {"ep": 2, "sc": 1, "line": 0, "text": "Mother, put the phone down."})[0] == 200
    assert client.post("/api/action", {"ep": 2, "sc": 2, "text": "She tears the letter in two."})[0] == 200
    text = path.read_text(encoding="utf-8")
    after = json.loads(text)
    assert after["scenes"][0]["dialogue"][0]["text"] == "Mother, put the phone down."
    assert after["scenes"][1]["action"] == "She tears the letter in two."
    before["scenes"][0]["dialogue"][0]["text"], before["scenes"][1]["action"] = (
        "Mother, put the phone down.", "She tears the letter in two.")
    assert after == before and text == json.dumps(after, indent=2, ensure_ascii=False) + "\n"
    assert series.at(series.paths.script("01")).read_text(encoding="utf-8") != text


def test_writes_go_only_to_the_allow_list(served, series, tmp_path):
    site = served.site
    assert site.writable(site.decisions) == site.decisions
    assert site.writable(series.at(series.paths.script("02"))).name == "script.json"
    for path in [tmp_path / "elsewhere.yaml", series.at(series.paths.outline), series.at(series.paths.script("03")),
                 series.at(series.paths.root) / "ep01" / ".." / "ep01" / "script.json.bak"]:
        with pytest.raises(Refused) as refused:
            site.writable(path)
        assert refused.value.status == 403
    script = series.at(series.paths.script("01"))
    script.rename(script.with_name("real.json"))
    script.symlink_to(script.with_name("real.json"))
    with pytest.raises(Refused, match="symbolic link"):
        site.writable(script)


def test_two_tabs_writing_at_once_lose_nothing(client, served):
    def ask(tab: int) -> None:
        for i in range(3):
            assert client.post("/api/retake", {"ep": 1, "sc": 1 + tab % 2, "note": f"tab {tab} note {i}"})[0] == 200

    tabs = [threading.Thread(target=ask, args=(tab,)) for tab in range(6)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    data = decisions_of(served)["ep01"]
    assert sorted(data["sc01"]["retake"] + data["sc02"]["retake"]) == sorted(
        f"tab {tab} note {i}" for tab in range(6) for i in range(3))


# -- the rebuild ------------------------------------------------------------------------------------

def wait_for(client, state_not="running", timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = json.loads(client.request("GET", "/api/rebuild")[1])
        if status["state"] != state_not:
            return status
        time.sleep(0.05)
    raise AssertionError("the rebuild did not finish")


def test_a_rebuild_runs_one_at_a_time_and_reports_its_progress(series):
    code = ("import sys, time\nprint('Building DAG of jobs...', flush=True)\nprint('1 of 4 steps (25%) done', flush=True)\n"
            "time.sleep(1.0)\nprint('4 of 4 steps (100%) done', flush=True)\nsys.exit(int(sys.argv[1]))")
    server = start(series, [], command=[sys.executable, "-c", code, "0"])
    try:
        client = Client(server)
        assert json.loads(client.request("GET", "/api/rebuild")[1])["state"] == "idle"
        status, answer = client.post("/api/rebuild", {})
        assert status == 202 and answer["rebuild"]["state"] == "running"
        assert client.post("/api/rebuild", {})[0] == 409
        status, answer = client.post("/api/dialogue", {"ep": 1, "sc": 1, "line": 0, "text": "Not now."})
        assert status == 409 and "rebuild is running" in answer["error"]
        assert client.post("/api/pick", {"ep": 1, "sc": 1, "take": 2})[0] == 200, "decisions are for the next build"
        done = wait_for(client)
        assert (done["state"], done["returncode"], done["done"], done["total"], done["percent"]) == ("ok", 0, 4, 4, 100)
        assert done["tail"][-1] == "4 of 4 steps (100%) done"
        log = server.site.root / "review" / "rebuild.log"
        assert "1 of 4 steps (25%) done" in log.read_text(encoding="utf-8")
        assert client.request("GET", "/review/rebuild.log")[0].status == 200
        server.site.rebuild.command[-1] = "3"
        assert client.post("/api/rebuild", {})[0] == 202
        failed = wait_for(client)
        assert (failed["state"], failed["returncode"]) == ("failed", 3)
    finally:
        server.close()


def test_the_default_rebuild_is_shortdrama_build_with_the_pages_overrides(series):
    from shortdrama.review.site import build_command

    assert build_command(series, ["video=still"]) == [sys.executable, "-m", "shortdrama.cli", "build", "-d",
                                                      str(series.workdir), "video=still"]


# -- where it listens -------------------------------------------------------------------------------

def test_a_non_loopback_review_host_needs_host_on_the_command_line(tmp_path):
    wf = Workflow(load_config([*TINY, "review.host=0.0.0.0", "review.port=8765"]), [], checkout=tmp_path)
    with pytest.raises(UsageError, match=r"review.host=0.0.0.0 is not a loopback address.*pass `--host 0.0.0.0`"):
        listen_address(wf, None, None)
    assert listen_address(wf, "0.0.0.0", None) == ("0.0.0.0", 8765)
    assert listen_address(wf, "0.0.0.0", 0) == ("0.0.0.0", 0)
    local = Workflow(load_config([*TINY, "review.host=localhost"]), [], checkout=tmp_path)
    assert listen_address(local, None, None) == ("localhost", 0)


def test_the_cli_refuses_a_non_loopback_host_in_one_line(capsys):
    assert main(["review", "--serve", "review.host=192.0.2.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass `--host 192.0.2.1` to mean it" in err
    assert main(["review", "--port", "9"]) == 2
    assert "--host and --port go with --serve" in capsys.readouterr().err


def test_host_and_port_are_not_part_of_the_recorded_config():
    cfg = load_config(["review.host=::1", "review.port=9000"])
    assert (cfg.review.host, cfg.review.port) == ("::1", 9000)
    assert "host" not in cfg.model_dump(mode="json")["review"], "changing where the page listens reruns nothing"


def test_the_cli_serves_until_it_is_stopped(series):
    import signal
    import subprocess
    from urllib.parse import urlsplit

    cli = [sys.executable, "-m", "shortdrama.cli", "review", "--serve", "-d", str(series.workdir), *TINY]
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("shortdrama review: serving results/demo")
        url = urlsplit(proc.stdout.readline().strip())
        assert url.hostname == "127.0.0.1" and url.path == "/review/" and url.query.startswith("token=")
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
        connection.request("GET", f"{url.path}?{url.query}")
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie").split(";")[0]
        connection.request("GET", "/review/", headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200 and b'data-action="rebuild"' in response.read()
        connection.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "shortdrama review: stopped" in err
