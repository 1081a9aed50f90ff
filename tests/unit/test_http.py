"""The retrying request every provider shares: how vendor verdicts and the create-once rule change retries."""

from __future__ import annotations

import httpx
import pytest

from shortdrama.http import ProviderHTTPError, RetryPolicy, request

POLICY = RetryPolicy(max_attempts=5, base_delay_s=0.01, max_delay_s=0.05, max_total_s=600, request_timeout_s=1.0)


def client_answering(*answers):
    """A client whose transport plays `answers` in order: (status, json) pairs or exceptions to raise."""
    sent: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        answer = answers[min(len(sent), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(handler)), sent


def test_a_vendor_verdict_retries_a_200_and_stops_a_429():
    client, sent = client_answering((200, {"base_resp": {"status_code": 1002}}), (200, {"base_resp": {"status_code": 0}}))
    judge = lambda r: "retry" if r.json()["base_resp"]["status_code"] == 1002 else None  # noqa: E731
    assert request(client, "GET", "http://127.0.0.1/x", policy=POLICY, what="t", sleep=lambda s: None,
                   judge=judge).json()["base_resp"]["status_code"] == 0
    assert len(sent) == 2
    client, sent = client_answering((429, {"error": "daily task limit reached"}))
    with pytest.raises(ProviderHTTPError, match="HTTP 429: .*daily"):
        request(client, "GET", "http://127.0.0.1/x", policy=POLICY, what="t", sleep=lambda s: None,
                judge=lambda r: "final")
    assert len(sent) == 1


def test_backoff_waits_from_one_second_and_doubles():
    client, sent = client_answering(*[(429, {"code": 1303})] * 4, (200, {}))
    sleeps: list[float] = []
    request(client, "POST", "http://127.0.0.1/x", policy=POLICY, what="t", sleep=sleeps.append,
            judge=lambda r: "backoff" if r.status_code == 429 else None)
    assert len(sleeps) == 4 and 0.5 <= sleeps[0] <= 1.0 and 4.0 <= sleeps[3] <= 8.0


def test_a_create_that_may_have_arrived_is_not_sent_again():
    client, sent = client_answering(httpx.ReadTimeout("slow"), (200, {}))
    with pytest.raises(ProviderHTTPError, match="whether the server accepted it is unknown") as caught:
        request(client, "POST", "http://127.0.0.1/x", policy=POLICY, what="t", sleep=lambda s: None, resend=False)
    assert caught.value.maybe_accepted and len(sent) == 1
    client, sent = client_answering((502, {}), (200, {}))
    with pytest.raises(ProviderHTTPError) as caught:
        request(client, "POST", "http://127.0.0.1/x", policy=POLICY, what="t", sleep=lambda s: None, resend=False)
    assert caught.value.maybe_accepted and len(sent) == 1


def test_a_create_that_surely_did_not_arrive_is_sent_again():
    client, sent = client_answering(httpx.ConnectError("refused"), (429, {}), (503, {}), (200, {"id": "t-1"}))
    response = request(client, "POST", "http://127.0.0.1/x", policy=POLICY, what="t", sleep=lambda s: None,
                       resend=False)
    assert response.json() == {"id": "t-1"} and len(sent) == 4
