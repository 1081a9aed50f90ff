"""The behaviours every hosted video service shows through the one job engine (video/jobs.py), written once.

A service's test module subclasses the contracts that apply to it, names its fake server and what differs
in the hooks below, and keeps only the tests of its own protocol:

    class TestRunway(VendorContract, LostCreatesWaitForTheUser, CancelledAtTheTimeout):
        vendor, env, models, preset = "runway", {ENV: KEY}, ("gen4_turbo", "gen4.5"), PRESET
        ...
        def fake(self, **options):
            return FakeRunway(api_key=KEY, **options)

    HostedVideoContract         every service, the seed gateway included: a killed build resumes its job, a
                                failed job falls back, a corrupt download is never passed on, a missing key
                                stops before any request, a key echoed back never reaches a message, record
                                or log
    VendorContract              + what the six vendor APIs share: a refusal stops the chain, a retired model
                                names the preset, an expired URL is asked for again (not paid again), a wrong
                                key is one clear error, rate limits are retried and account problems are final
    LostCreatesWaitForTheUser   no idempotency key and no lookup by ours: a lost create waits for the user
    CancelledAtTheTimeout       a job still queued at the timeout is cancelled; the next run submits anew
    PolledAgainAfterTheTimeout  no cancel call: a job past the timeout is polled again, never paid twice
    RefusedAtSubmit             a prompt refused at the create request is final, without fallback
    RefusedBeforeSending        a request the service cannot take is refused before anything is sent
    ForgottenJobsAreLost        a job the service no longer knows is recorded lost and submitted anew

Cases that come in several kinds per service (`failures`, `refusals`, ...) are parametrized per subclass
by `pytest_generate_tests` below, so each kind is its own test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from PIL import Image

from fakes.vendor_base import Fault, FakeJob, Outcome, VendorFake
from fakes.vendor_checks import assert_clip, record
from shortdrama.errors import ProviderError
from shortdrama.video.jobs import JobEngine
from shortdrama.video.vendors.base import JobRejected, JobRequest

PROMPT = "Mara opens the letter; close-up"


class Killed(BaseException):
    """Stands in for the signal that ends a build while it waits between polls."""


def killing_sleep(seconds: float) -> None:
    raise Killed


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class HostedVideoContract:
    # --- what a service's subclass names ---
    vendor: str  # the adapter's name, as JobOutcome.vendor and the engine's messages give it
    env: dict[str, str]  # the key variables the engine reads, with the test's values
    models: tuple[str, ...]  # a chain: the fallback tests fail the first, the second delivers, any third is never asked
    duration = 5.0  # the clip length the tests ask for: one the service sells
    keyframe_name = "keyframe.png"
    auth_scheme = "Bearer"  # what the engine leaves of an echoed Authorization header: f"{auth_scheme} ***"
    leak_markers: tuple[str, ...] = ()  # more text that must never reach a message or record (a signed token)
    poll_route = "poll"  # the fake's route for status polls
    # (id, failed Outcome that falls back, the error the record keeps of it, the vendor status recorded with it)
    failures: tuple[tuple[str, Outcome, str, str], ...] = ()
    echo_fault: Fault  # a create refused with an error that repeats the key (or, echo_auth, the header)
    echo_shows: tuple[str, ...] = ()  # what else that refusal's message must show
    transient_fault = Fault.http(429, retry_after=0)  # an answer to a create that the engine retries

    def fake(self, **options: Any) -> VendorFake:
        """The service's fake; options: outcomes, default, url_ttl_s (a fake without expiring URLs ignores it)."""
        raise NotImplementedError

    def engine(self, fake: VendorFake, job_dir: Path, *models: str, sleep: Callable[[float], None] = lambda s: None,
               **changes: Any) -> JobEngine:
        """The engine on `models` (default: the first of `self.models`), fast test settings changed by `changes`."""
        raise NotImplementedError

    def failure_saying(self, text: str) -> Outcome:
        """A failed job whose reason, in the service's own shape, is `text` (a failure that falls back)."""
        raise NotImplementedError

    def job_id(self, fake: VendorFake, job: FakeJob) -> str:
        """The id the service gave `job` (what the record and JobOutcome hold)."""
        return job.id

    # --- shared by the contract ---

    @property
    def secrets(self) -> tuple[str, ...]:
        return (*self.env.values(), *self.leak_markers)

    def request(self, keyframe: Path | None, key: str = "clip-0001", **changes: Any) -> JobRequest:
        values = dict(key=key, prompt=PROMPT, duration=self.duration, width=720, height=1280, fps=24, seed=7,
                      reference_image=keyframe, negative_prompt="blurry")
        values.update(changes)
        return JobRequest(**values)

    def cases(self) -> dict[str, tuple[tuple, ...]]:
        """Parametrized arguments: name -> cases, each (id, *values); a test taking `name` runs once per case."""
        return {"failure": self.failures}

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        for name, cases in self.cases().items():
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, [case[1:] for case in cases], ids=[case[0] for case in cases])

    @pytest.fixture(autouse=True)
    def keys(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    @pytest.fixture
    def keyframe(self, tmp_path: Path) -> Path:
        path = tmp_path / self.keyframe_name
        Image.new("RGB", (9, 16), "navy").save(path)
        return path

    # --- the behaviours ---

    def test_a_build_killed_while_polling_resumes_the_same_job(self, tmp_path, keyframe):
        jobs, out = tmp_path / "jobs", tmp_path / "clip.mp4"
        with self.fake(default=Outcome(pending_polls=3)) as fake:
            with pytest.raises(Killed):
                self.engine(fake, jobs, sleep=killing_sleep).generate(self.request(keyframe), out)
            [job] = fake.submissions
            rec = record(jobs)
            assert (rec["status"], rec["job_id"]) == ("submitted", self.job_id(fake, job))
            result = self.engine(fake, jobs).generate(self.request(keyframe), out)
        assert len(fake.submissions) == 1 and result.job_id == self.job_id(fake, job)
        assert fake.polls == [job.id] * 4 and len(fake.of(self.poll_route)) == 4, "the resumed run polled the same job"
        assert_clip(out, self.duration)

    def test_a_failed_job_falls_back_to_the_next_model(self, tmp_path, keyframe, failure):
        outcome, error, vendor_status = failure
        first, second = self.models[:2]
        with self.fake(outcomes={first: outcome}) as fake:
            result = self.engine(fake, tmp_path / "jobs", *self.models).generate(self.request(keyframe),
                                                                                 tmp_path / "clip.mp4")
        assert [j.model for j in fake.submissions] == [first, second], "the first model that delivers ends the chain"
        assert (result.model, result.attempts) == (second, 2)
        rec = record(tmp_path / "jobs")
        assert (rec["model"], rec["status"], rec["job_id"]) == (second, "completed", result.job_id)
        [earlier] = rec["history"]
        assert (earlier["model"], earlier["status"], earlier["error"], earlier["vendor_status"]) == \
            (first, "failed", error, vendor_status), earlier
        assert_clip(tmp_path / "clip.mp4", self.duration)

    def test_a_corrupt_download_is_never_passed_on_and_the_next_run_generates_anew(self, tmp_path, keyframe):
        jobs, out = tmp_path / "jobs", tmp_path / "out"
        out.mkdir()
        with self.fake(url_ttl_s=2.0) as fake:
            # the signed URL is fetched at once, well within its 2 s
            self.engine(fake, jobs).generate(self.request(keyframe), out / "clip.mp4")
            assert_clip(out / "clip.mp4", self.duration)
            fake.fault("download", *[Fault.corrupted()] * 3)
            with pytest.raises(ProviderError, match="no valid video after 3 attempts .*not a decodable video"):
                self.engine(fake, jobs).generate(self.request(keyframe, key="clip-0002"), out / "c2.mp4")
            assert record(jobs, "clip-0002")["status"] == "bad_output", "so the next run generates anew"
            assert listing(out) == ["clip.mp4"], "no clip, no temporary left behind"

            (out / "c2.mp4").write_bytes(b"")  # only a checked file may replace what is there
            fake.fault("download", *[Fault.corrupted()] * 3)
            with pytest.raises(ProviderError, match="no valid video after 3 attempts .*not a decodable video"):
                self.engine(fake, jobs).generate(self.request(keyframe, key="clip-0002"), out / "c2.mp4")
        first, second, third = fake.submissions
        assert fake.downloads == [first.id] + [second.id] * 3 + [third.id] * 3
        assert (out / "c2.mp4").read_bytes() == b"" and listing(out) == ["c2.mp4", "clip.mp4"]
        assert record(jobs, "clip-0002")["status"] == "bad_output"

    def test_a_missing_key_is_named_before_anything_is_sent(self, tmp_path, keyframe, monkeypatch):
        for name in self.env:
            monkeypatch.delenv(name)
            with self.fake() as fake:
                with pytest.raises(ProviderError, match=f"set the environment variable {name}"):
                    self.engine(fake, tmp_path / "jobs").generate(self.request(keyframe), tmp_path / "clip.mp4")
            assert fake.requests == [] and not (tmp_path / "jobs").exists()
            monkeypatch.setenv(name, self.env[name])

    def test_a_key_echoed_back_never_reaches_a_message_a_record_or_the_log(self, tmp_path, keyframe, caplog):
        caplog.set_level("DEBUG")
        jobs, out = tmp_path / "jobs", tmp_path / "clip.mp4"
        with self.fake() as fake:
            fake.fault("submit", self.transient_fault, self.echo_fault)
            video = self.engine(fake, jobs)
            with pytest.raises(ProviderError) as caught:
                video.generate(self.request(keyframe), out)
            message = str(caught.value)
            assert f"{self.auth_scheme} ***" in message and all(shown in message for shown in self.echo_shows)
            assert not any(secret in message for secret in self.secrets)
            assert caught.value.__suppress_context__
            assert not any(secret in repr(caught.value.__cause__) for secret in self.secrets)

            result = video.generate(self.request(keyframe), out)  # the same request, the key the same: it goes through
        assert len(fake.submissions) == 1 and result.job_id == self.job_id(fake, fake.submissions[0])
        assert all(r.authorized for r in fake.requests) and fake.credentials_at_storage == 0

        with self.fake(default=self.failure_saying(f"rejected request with Authorization: {self.auth_scheme} "
                                                   f"{next(iter(self.env.values()))}")) as fake:
            with pytest.raises(ProviderError) as caught:  # now the job itself fails with the key in its reason
                self.engine(fake, tmp_path / "jobs2").generate(self.request(keyframe), out)
        assert f"{self.auth_scheme} ***" in str(caught.value)
        assert not any(secret in str(caught.value) for secret in self.secrets)
        for folder in (jobs, tmp_path / "jobs2"):
            text = (folder / "clip-0001.json").read_text()
            assert not any(secret in text for secret in self.secrets)
        assert json.loads((tmp_path / "jobs2" / "clip-0001.json").read_text())["status"] == "failed"
        assert not any(secret in caplog.text for secret in self.secrets)
        assert caplog.records  # the capture did see the HTTP traffic


class VendorContract(HostedVideoContract):
    preset: str  # the preset file a message must send the user to
    unknown_model: str  # a model name the fake does not know (retired, or never was)
    # (id, failed Outcome the vendor means as a refusal, what the message shows)
    refusals: tuple[tuple[str, Outcome, str], ...] = ()
    wrong_env: dict[str, str]  # key variables set to values the fake refuses
    wrong_key_shows: str  # the message for them (a regex)
    fresh_url_routes: tuple[str, ...] = ("poll",)  # asked once each for a fresh download URL of a finished job
    rate_limited: dict[str, tuple[Fault, ...]]  # route -> faults of the vendor's rate limiting, all retried
    account_refusal: Fault  # the create answer for an account that cannot pay (balance, quota, cap)
    account_refusal_shows: str  # its message (a regex)

    def check_backoff(self, sleeps: list[float]) -> None:
        """What the vendor's rate limiting makes the engine wait (the sleeps of `rate_limited`)."""

    def cases(self) -> dict[str, tuple[tuple, ...]]:
        return {**super().cases(), "refusal": self.refusals}

    def test_a_refused_job_stops_the_chain(self, tmp_path, keyframe, refusal):
        outcome, shows = refusal
        with self.fake(outcomes={self.models[0]: outcome}) as fake:
            with pytest.raises(JobRejected, match=shows) as caught:
                self.engine(fake, tmp_path / "jobs", *self.models).generate(self.request(keyframe),
                                                                             tmp_path / "clip.mp4")
        assert "change the scene's prompt" in str(caught.value), "a cheaper model would be refused too"
        assert [j.model for j in fake.submissions] == [self.models[0]]
        assert record(tmp_path / "jobs")["status"] == "rejected" and not (tmp_path / "clip.mp4").exists()

    def test_a_retired_model_names_the_preset_to_update(self, tmp_path, keyframe):
        shows = f"does not know the model {re.escape(repr(self.unknown_model))}.*update `model` in {self.preset}"
        with self.fake() as fake:
            with pytest.raises(ProviderError, match=shows):
                self.engine(fake, tmp_path / "jobs", self.unknown_model).generate(self.request(keyframe),
                                                                                   tmp_path / "clip.mp4")
        assert fake.submissions == [] and len(fake.of("submit")) == 1
        assert record(tmp_path / "jobs")["status"] == "not_submitted", "a refused create is not a job to look for"

    def test_an_expired_download_url_is_asked_for_again_not_paid_again(self, tmp_path, keyframe):
        jobs, out = tmp_path / "jobs", tmp_path / "clip.mp4"
        with self.fake(url_ttl_s=-1.0) as fake:  # the URL is dead by the time it is fetched
            video = self.engine(fake, jobs)
            with pytest.raises(ProviderError, match="HTTP 403"):
                video.generate(self.request(keyframe), out)
            assert record(jobs)["status"] == "completed" and fake.downloads == []
            fake.url_ttl_s = 60.0
            asked = {route: len(fake.of(route)) for route in self.fresh_url_routes}
            result = video.generate(self.request(keyframe), out)
        [job] = fake.submissions
        assert result.job_id == self.job_id(fake, job) and fake.downloads == [job.id]
        assert {route: len(fake.of(route)) - n for route, n in asked.items()} == dict.fromkeys(asked, 1), \
            "the finished job was asked once for a fresh URL"
        assert_clip(out, self.duration)

    def test_a_wrong_key_is_one_clear_error(self, tmp_path, keyframe, monkeypatch):
        for name, value in self.wrong_env.items():
            monkeypatch.setenv(name, value)
        with self.fake() as fake:
            with pytest.raises(ProviderError, match=self.wrong_key_shows) as caught:
                self.engine(fake, tmp_path / "jobs", *self.models).generate(self.request(keyframe),
                                                                             tmp_path / "clip.mp4")
        assert not any(value in str(caught.value) for value in self.wrong_env.values())
        assert fake.submissions == [] and len(fake.requests) == 1, "neither retried nor passed down the chain"
        assert record(tmp_path / "jobs")["status"] == "not_submitted"

    def test_rate_limits_are_retried_and_an_account_that_cannot_pay_is_final(self, tmp_path, keyframe):
        sleeps: list[float] = []
        with self.fake() as fake:
            for route, faults in self.rate_limited.items():
                fake.fault(route, *faults)
            self.engine(fake, tmp_path / "jobs", sleep=sleeps.append).generate(self.request(keyframe),
                                                                               tmp_path / "clip.mp4")
            assert len(fake.submissions) == 1 and len(fake.of("submit")) == len(self.rate_limited["submit"]) + 1
            assert not any(fake.script.faults(route) for route in self.rate_limited), "every fault was met"
            assert_clip(tmp_path / "clip.mp4", self.duration)
            self.check_backoff(sleeps)

            fake.fault("submit", self.account_refusal)
            with pytest.raises(ProviderError, match=self.account_refusal_shows):
                self.engine(fake, tmp_path / "jobs", *self.models).generate(self.request(keyframe, key="clip-0002"),
                                                                             tmp_path / "c2.mp4")
        assert len(fake.of("submit")) == len(self.rate_limited["submit"]) + 2, "not retried, no fallback"
        assert len(fake.submissions) == 1 and record(tmp_path / "jobs", "clip-0002")["status"] == "not_submitted"


class LostCreatesWaitForTheUser:
    """The vendor takes no idempotency key and lists no jobs by ours: the job a lost create reply named cannot
    be found, and sending the create again could pay twice. Runs stop, naming the record and the dashboard,
    until the user deletes the record (submit again) or puts the job's id into it (poll that job)."""

    def cases(self) -> dict[str, tuple[tuple, ...]]:
        return {**super().cases(), "choice": (("delete the record", True), ("record the job id", False))}

    def test_a_lost_create_reply_stops_every_run_until_the_user_decides(self, tmp_path, keyframe, choice):
        (delete,) = choice
        jobs, out = tmp_path / "jobs", tmp_path / "clip.mp4"
        path = jobs / "clip-0001.json"
        with self.fake() as fake:
            video = self.engine(fake, jobs)
            fake.fault("submit", Fault(answer_then_reset=True))
            for _ in range(2):
                with pytest.raises(ProviderError) as caught:
                    video.generate(self.request(keyframe), out)
                message = str(caught.value)
                assert str(path) in message and f"{self.vendor} cannot look jobs up" in message
                assert "dashboard" in message and json.loads(path.read_text())["status"] == "submitting"
                assert len(fake.submissions) == 1 and len(fake.of("submit")) == 1, "never resent on a doubt"
            if delete:
                path.unlink()
            else:
                job_id = self.job_id(fake, fake.submissions[0])
                path.write_text(json.dumps({**json.loads(path.read_text()), "job_id": job_id, "status": "submitted"}))
            result = video.generate(self.request(keyframe), out)
        assert len(fake.submissions) == (2 if delete else 1)
        assert result.job_id == self.job_id(fake, fake.submissions[-1]) and record(jobs)["status"] == "completed"
        assert_clip(out, self.duration)


class CancelledAtTheTimeout:
    """The vendor's cancel call stops a job still queued (confirmed, nothing is billed): a job past the
    timeout is cancelled and the next run submits a new one."""

    cancel_method: str  # the HTTP method of the vendor's cancel call
    cancel_timeout = 0.05  # a timeout the stuck job reaches while still queued
    cancelled_while: str | None = None  # the vendor status recorded at the cancel, where it is certain

    def test_a_job_past_the_timeout_is_cancelled_and_the_next_run_submits_anew(self, tmp_path, keyframe):
        jobs = tmp_path / "jobs"
        stops = f"did not complete within {self.cancel_timeout:g} s and was cancelled"
        with self.fake(outcomes={self.models[0]: [Outcome(result="stuck"), Outcome()]}) as fake:
            with pytest.raises(ProviderError, match=stops):
                self.engine(fake, jobs, job_timeout_s=self.cancel_timeout).generate(self.request(keyframe),
                                                                                    tmp_path / "clip.mp4")
            stuck = fake.submissions[0]
            assert [r.method for r in fake.of("cancel")] == [self.cancel_method]
            assert stuck.cancelled and fake.cancels == [stuck.id] and record(jobs)["status"] == "cancelled"
            if self.cancelled_while is not None:
                assert record(jobs).get("vendor_status") == self.cancelled_while, record(jobs)
            result = self.engine(fake, jobs).generate(self.request(keyframe), tmp_path / "clip.mp4")
        assert len(fake.submissions) == 2 and result.job_id == self.job_id(fake, fake.submissions[1])
        assert_clip(tmp_path / "clip.mp4", self.duration)


class PolledAgainAfterTheTimeout:
    """The service has no cancel call: a job we stop waiting for may still finish and bill, so the next run
    polls it again instead of paying for another, until it ends or the user gives it up (deletes the record)."""

    def test_a_job_past_the_timeout_is_polled_again_never_paid_twice(self, tmp_path, keyframe):
        jobs, out = tmp_path / "jobs", tmp_path / "clip.mp4"
        # Four polls per run (the injected sleep does not sleep; the poll count bounds the wait).
        slow = dict(job_timeout_s=1.0, poll_interval_s=0.25)
        outcomes = [Outcome(pending_polls=8), Outcome(result="stuck"), Outcome()]
        with self.fake(outcomes={self.models[0]: outcomes}) as fake:
            video = self.engine(fake, jobs, **slow)
            with pytest.raises(ProviderError, match="did not complete within 1 s and .* could not cancel it: the next "
                                                    "run polls the same job") as caught:
                video.generate(self.request(keyframe), out)
            [job] = fake.submissions
            assert f"job {self.job_id(fake, job)} on {self.models[0]} did not complete" in str(caught.value)
            assert str(jobs / "clip-0001.json") in str(caught.value), "the message says how to give the job up"
            rec = record(jobs)
            assert (rec["status"], rec["job_id"]) == ("overdue", self.job_id(fake, job)) and not out.exists()
            polls = fake.poll_count(job.id)
            assert polls >= 2

            with pytest.raises(ProviderError, match="did not complete"):
                video.generate(self.request(keyframe), out)
            assert fake.poll_count(job.id) > polls and len(fake.submissions) == 1
            result = video.generate(self.request(keyframe), out)  # it ends: the same job delivers
            assert len(fake.submissions) == 1 and result.job_id == self.job_id(fake, job)
            assert_clip(out, self.duration)

            second = self.request(keyframe, key="clip-0002")
            with pytest.raises(ProviderError, match="could not cancel it"):
                video.generate(second, tmp_path / "c2.mp4")
            (jobs / "clip-0002.json").unlink()  # the user gives the job up, as the message says
            result = video.generate(second, tmp_path / "c2.mp4")
        assert len(fake.submissions) == 3 and result.job_id == self.job_id(fake, fake.submissions[2])
        assert_clip(tmp_path / "c2.mp4", self.duration)


class RefusedAtSubmit:
    """A prompt the vendor refuses at the create request: no job, a clear error, and no fallback (a cheaper
    model would refuse it too)."""

    # (id, fault on the create or None, prompt or None, what the message shows)
    submit_refusals: tuple[tuple[str, Fault | None, str | None, str], ...]

    def cases(self) -> dict[str, tuple[tuple, ...]]:
        return {**super().cases(), "submit_refusal": self.submit_refusals}

    def test_a_prompt_refused_at_submit_is_final_without_fallback(self, tmp_path, keyframe, submit_refusal):
        fault, prompt, shows = submit_refusal
        with self.fake() as fake:
            if fault is not None:
                fake.fault("submit", fault)
            with pytest.raises(JobRejected, match=shows):
                self.engine(fake, tmp_path / "jobs", *self.models).generate(
                    self.request(keyframe, **({"prompt": prompt} if prompt else {})), tmp_path / "clip.mp4")
        assert fake.submissions == [] and len(fake.of("submit")) == 1
        assert record(tmp_path / "jobs")["status"] == "not_submitted"


class RefusedBeforeSending:
    """A request the service cannot take is refused before anything is sent, and recorded as no job."""

    # (id, engine changes, request changes, what the message shows)
    unsendable: tuple[tuple[str, dict, dict, str], ...]

    def cases(self) -> dict[str, tuple[tuple, ...]]:
        return {**super().cases(), "unsendable_request": self.unsendable}

    def test_a_request_the_service_cannot_take_is_refused_before_sending(self, tmp_path, keyframe,
                                                                         unsendable_request):
        changes, request_changes, shows = unsendable_request
        with self.fake() as fake:
            with pytest.raises(ProviderError, match=shows):
                self.engine(fake, tmp_path / "jobs", **changes).generate(self.request(keyframe, **request_changes),
                                                                          tmp_path / "clip.mp4")
        assert fake.requests == [] and record(tmp_path / "jobs")["status"] == "not_submitted"


class ForgottenJobsAreLost:
    """A job the service no longer knows (never a model it no longer knows) is recorded lost; the next run
    submits it anew."""

    forgotten_shows: str  # the message (a regex)

    def test_a_job_the_service_forgot_is_lost_and_submitted_anew(self, tmp_path, keyframe):
        jobs, out = tmp_path / "jobs", tmp_path / "clip.mp4"
        with self.fake(default=Outcome(pending_polls=2)) as fake:
            with pytest.raises(Killed):
                self.engine(fake, jobs, sleep=killing_sleep).generate(self.request(keyframe), out)
            fake.forget(fake.submissions[0].id)
            with pytest.raises(ProviderError, match=self.forgotten_shows) as caught:
                self.engine(fake, jobs).generate(self.request(keyframe), out)
            assert "model" not in str(caught.value) and record(jobs)["status"] == "lost"
            result = self.engine(fake, jobs).generate(self.request(keyframe), out)
        assert len(fake.submissions) == 2 and result.job_id == self.job_id(fake, fake.submissions[1])
        assert_clip(out, self.duration)
