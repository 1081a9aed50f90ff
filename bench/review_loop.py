"""The review loop's cost: from a decision in the served page to the rebuilt final, against a full build
of the same series in the same run.

Builds the demo (both episodes, 720p) with `takes: 2` and the priced stand-in video provider
(`video=fake_paid`: animatic clips billed like a hosted API, so the ledger counts paid calls), then
drives `shortdrama review --serve` over HTTP as the page does (the token from the page, the cookie
from the first visit):
- pick: POST /api/pick (ep01 sc02 take 2), POST /api/rebuild, poll GET /api/rebuild until it ends;
- retake: POST /api/retake with a note, rebuild;
- revert: POST /api/withdraw-retakes (the note withdrawn), rebuild.
Each is timed from the decision's POST to the end of the rebuild; the paid calls are the ledger's
billed cache misses added by that step.

    .venv/bin/python bench/review_loop.py
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchlib import REPO, write_figure

OVERRIDES = ["video=fake_paid", "takes=2"]
CLI = str(Path(sys.executable).with_name("shortdrama"))


def paid_calls(work: Path) -> int:
    from shortdrama.cost.ledger import BILLED_OUTCOMES, Ledger

    ledger = work / "results/demo/ledger.jsonl"
    return sum(1 for e in Ledger(ledger).entries() if e.cache == "miss" and e.outcome in BILLED_OUTCOMES
               and e.cost_usd > 0) if ledger.exists() else 0


class Page:
    """The served page as a browser uses it: one cookie jar, the token read from the page."""

    def __init__(self, url: str) -> None:
        self.base = url.split("/review/")[0]
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        html = self.opener.open(url).read().decode()
        self.token = re.search(r'name="review-token" content="([^"]+)"', html)[1]

    def post(self, action: str, body: dict) -> dict:
        request = urllib.request.Request(f"{self.base}/api/{action}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "X-Review-Token": self.token,
                                                  "Origin": self.base})
        return json.loads(self.opener.open(request).read())

    def rebuild(self) -> dict:
        self.post("rebuild", {})
        while True:
            status = json.loads(self.opener.open(f"{self.base}/api/rebuild").read())
            if status["state"] not in ("running", "idle"):
                return status
            time.sleep(0.2)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        work, decisions = Path(tmp) / "work", Path(tmp) / "decisions.yaml"
        overrides = [*OVERRIDES, f"review.decisions={decisions}"]
        env = {**os.environ, "SHORTDRAMA_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        subprocess.run([CLI, "build", "-d", str(work), *overrides], check=True, env=env,
                       capture_output=True, cwd=REPO)
        full_s = time.perf_counter() - start
        full_calls = paid_calls(work)
        # The page's rebuild is `shortdrama build` with the machine's cores, as the full build above.
        server = subprocess.Popen([CLI, "review", "--serve", "-d", str(work), *overrides], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
        try:
            url = next(line.strip() for line in server.stdout if line.strip().startswith("http://"))
            page = Page(url)
            steps = {}

            def step(name: str, decide) -> None:  # noqa: ANN001
                before, start = paid_calls(work), time.perf_counter()
                decide()
                status = page.rebuild()
                assert status["returncode"] == 0, status
                steps[name] = {"seconds": round(time.perf_counter() - start, 2), "paid_calls": paid_calls(work) - before,
                               "ratio_to_full_build": round((time.perf_counter() - start) / full_s, 3)}
                print(f"{name}: {steps[name]}", flush=True)

            step("pick", lambda: page.post("pick", {"ep": 1, "sc": 2, "take": 2}))
            step("retake", lambda: page.post("retake", {"ep": 1, "sc": 3, "note": "slower, hold on her face"}))
            step("revert", lambda: page.post("withdraw-retakes", {"ep": 1, "sc": 3}))
        finally:
            server.terminate()
            server.wait(timeout=30)
    figures = {"series": "demo (2 episodes, 720p), takes=2, video=fake_paid", "full_build_s": round(full_s, 2),
               "full_build_paid_calls": full_calls, "steps": steps}
    print(json.dumps(figures, indent=1))
    print(write_figure("review_loop", figures))


if __name__ == "__main__":
    main()
