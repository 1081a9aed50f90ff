"""HTTP for hosted providers: one retrying request function shared by every provider.

Retries connection errors, timeouts, 429 and 5xx with exponential backoff and full jitter,
honours `Retry-After`, and never retries longer than a total time budget. Secrets travel only in
headers built here from environment variables; they are never logged or put into an error.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from .errors import ProviderError

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


# Errors raised while connecting: the request never reached the server, so sending it again is safe
# even for a create call that bills.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Answers that say the server did not take the request.
_REFUSED_STATUS = frozenset({429, 503})


class ProviderHTTPError(ProviderError):
    """A request that failed for good (after retries, or with a status that retrying cannot fix)."""

    def __init__(self, message: str, status: int | None = None, body: str = "", maybe_accepted: bool = False):
        super().__init__(message)
        self.status = status
        self.body = body  # the reply's text (first 4000 characters), for adapters that read error codes
        # A create request that may have reached the server before the connection broke: whether it
        # was accepted (and billed) is unknown.
        self.maybe_accepted = maybe_accepted


Judge = Callable[[httpx.Response], "str | None"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_total_s: float = 300.0
    request_timeout_s: float = 60.0


def api_key(env_name: str | None, provider: str) -> str | None:
    """The key from the environment variable the config names; a clear error, without the value, if unset."""
    if not env_name:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise ProviderError(f"{provider}: set the environment variable {env_name} to your API key")
    return value


def auth_headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def require_http_url(url: str, what: str) -> str:
    """Only http(s) URLs are followed: a provider response must not make us read files or other schemes."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"{what}: refusing a non-http(s) URL {url[:80]!r}")
    return url


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def request(client: httpx.Client, method: str, url: str, *, policy: RetryPolicy, what: str,
            sleep: Callable[[float], None] = time.sleep, judge: Judge | None = None, resend: bool = True,
            **kwargs: Any) -> httpx.Response:
    """Send with retries; return the first non-retryable response (2xx, or a 4xx that is final).

    `judge(response)` may overrule the status code: "retry" (a vendor's 200 that carries a rate-limit
    code), "backoff" (retry, waiting from 1 s up: a limit that frees up only when running jobs end),
    "final" (a 429 that no wait within this run fixes, like a daily cap), or None. With
    `resend=False` (a create call the server does not deduplicate) a request is only sent again when
    it surely did not arrive: a connection that never opened, or a 429/503 refusal."""
    require_http_url(url, what)
    started = time.monotonic()
    last_problem = "no attempt made"
    for attempt in range(1, policy.max_attempts + 1):
        wait: float | None = None
        verdict: str | None = None
        try:
            response = client.request(method, url, timeout=policy.request_timeout_s, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as error:
            last_problem = f"{type(error).__name__}"
            if not resend and not isinstance(error, _UNSENT):
                raise ProviderHTTPError(f"{what}: {last_problem} after the request was sent; whether the server "
                                        f"accepted it is unknown", maybe_accepted=True) from None
        else:
            verdict = judge(response) if judge is not None else None
            code = response.status_code
            retry = verdict in ("retry", "backoff") or (verdict is None and code in RETRYABLE_STATUS)
            if retry and not resend and verdict is None and code not in _REFUSED_STATUS:
                raise ProviderHTTPError(f"{what}: HTTP {code} after the request was sent; whether the server "
                                        f"accepted it is unknown", code, _body(response), maybe_accepted=True)
            if not retry:
                if code >= 400 or verdict == "final":
                    raise ProviderHTTPError(f"{what}: HTTP {code}: {_short_body(response)}", code, _body(response))
                return response
            last_problem = f"HTTP {code}"
            wait = retry_after_seconds(response)
        if attempt == policy.max_attempts:
            break
        if verdict == "backoff":
            # A limit that lasts until something else finishes (Kling's parallel tasks): from 1 s, doubling,
            # never less than half the step, so the retries spread over tens of seconds, not one.
            step = min(max(policy.max_delay_s, 30.0), max(1.0, policy.base_delay_s) * 2 ** (attempt - 1))
            delay = wait if wait is not None else random.uniform(step / 2, step)
        else:
            backoff = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
            delay = wait if wait is not None else random.uniform(0, backoff)  # full jitter
        if time.monotonic() - started + delay > policy.max_total_s:
            raise ProviderHTTPError(f"{what}: gave up after {attempt} attempts and {time.monotonic() - started:.0f} s "
                                    f"(last: {last_problem}; retry would exceed the {policy.max_total_s:g} s budget)")
        log.warning("%s: %s, retry %d/%d in %.2f s", what, last_problem, attempt, policy.max_attempts - 1, delay)
        sleep(delay)
    raise ProviderHTTPError(f"{what}: failed after {policy.max_attempts} attempts (last: {last_problem})")


def _body(response: httpx.Response) -> str:
    return response.text[:4000]


def _short_body(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase
