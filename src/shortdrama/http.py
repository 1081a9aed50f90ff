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


class ProviderHTTPError(ProviderError):
    """A request that failed for good (after retries, or with a status that retrying cannot fix)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


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
            sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> httpx.Response:
    """Send with retries; return the first non-retryable response (2xx, or a 4xx that is final)."""
    require_http_url(url, what)
    started = time.monotonic()
    last_problem = "no attempt made"
    for attempt in range(1, policy.max_attempts + 1):
        wait: float | None = None
        try:
            response = client.request(method, url, timeout=policy.request_timeout_s, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as error:
            last_problem = f"{type(error).__name__}"
        else:
            if response.status_code not in RETRYABLE_STATUS:
                if response.status_code >= 400:
                    raise ProviderHTTPError(f"{what}: HTTP {response.status_code}: {_short_body(response)}",
                                            response.status_code)
                return response
            last_problem = f"HTTP {response.status_code}"
            wait = retry_after_seconds(response)
        if attempt == policy.max_attempts:
            break
        backoff = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
        delay = wait if wait is not None else random.uniform(0, backoff)  # full jitter
        if time.monotonic() - started + delay > policy.max_total_s:
            raise ProviderHTTPError(f"{what}: gave up after {attempt} attempts and {time.monotonic() - started:.0f} s "
                                    f"(last: {last_problem}; retry would exceed the {policy.max_total_s:g} s budget)")
        log.warning("%s: %s, retry %d/%d in %.2f s", what, last_problem, attempt, policy.max_attempts - 1, delay)
        sleep(delay)
    raise ProviderHTTPError(f"{what}: failed after {policy.max_attempts} attempts (last: {last_problem})")


def _short_body(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase
