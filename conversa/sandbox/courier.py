"""The sandbox's courier: webhooks delivered over real HTTP from one background thread, with
the providers' retry rules."""

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import secrets
import threading
import time

import httpx

log = logging.getLogger(__name__)

# Evolution does not retry these (docs/providers.md §B2).
NOT_RETRIED = {400, 401, 403, 404, 422}
MAX_DELIVERY_ATTEMPTS = 10


class Courier:
    """Delivers queued webhooks in order from one background thread, with Evolution's retry
    rules: up to 10 attempts, exponential backoff with jitter, no retry on 400/401/403/404/422."""

    def __init__(self):
        self.queue: list = []
        self.counter = itertools.count()
        self.condition = threading.Condition()
        self.thread: threading.Thread | None = None
        # A webhook taken off the queue and not yet answered.
        self.delivering = False

    def post(
        self, url: str, headers: dict, body: dict, delay: float = 0.0, secret: str = ""
    ) -> None:
        """Queue `body` for `url`. With `secret`, it goes out as Meta sends: signed with
        X-Hub-Signature-256, and retried whatever the refusal."""
        raw = json.dumps(body).encode()
        headers = {**headers, "Content-Type": "application/json"}
        if secret:
            digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        with self.condition:
            heapq.heappush(
                self.queue, (time.monotonic() + delay, next(self.counter), url, headers, raw, 1)
            )
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="sandbox-courier", daemon=True)
                self.thread.start()
            # All: a test may be waiting in drain() beside the courier thread.
            self.condition.notify_all()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with self.condition:
                    while not self.queue or self.queue[0][0] > time.monotonic():
                        wait = self.queue[0][0] - time.monotonic() if self.queue else None
                        self.condition.wait(wait)
                    due, seq, url, headers, body, attempt = heapq.heappop(self.queue)
                    self.delivering = True
                try:
                    self.deliver(client, url, headers, body, attempt)
                finally:
                    with self.condition:
                        self.delivering = False
                        self.condition.notify_all()

    def clear(self) -> None:
        """Forget every queued webhook (not one in flight): a test starts without the
        retries still owed to the URLs of tests that ended."""
        with self.condition:
            self.queue.clear()

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; False if `timeout` seconds pass first.
        What ends a test that delivers for real: no late webhook reaches a database being
        emptied for the next test."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while self.queue or self.delivering:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.condition.wait(left)
        return True

    def deliver(
        self, client: httpx.Client, url: str, headers: dict, body: bytes, attempt: int
    ) -> None:
        try:
            status = client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            status, error = 0, str(exc)
        else:
            error = f"HTTP {status}"
        # Evolution gives up on some refusals; Meta retries anything but a 200.
        given_up = status in NOT_RETRIED and "X-Hub-Signature-256" not in headers
        if 200 <= status < 300 or given_up:
            if given_up:
                log.warning("sandbox webhook to %s refused with %s", url, status)
            return
        if attempt >= MAX_DELIVERY_ATTEMPTS:
            log.error("sandbox webhook to %s dropped after %s attempts: %s", url, attempt, error)
            return
        backoff = min(0.5 * 2 ** (attempt - 1), 30) * (0.8 + 0.4 * secrets.randbelow(100) / 100)
        with self.condition:
            heapq.heappush(
                self.queue,
                (time.monotonic() + backoff, next(self.counter), url, headers, body, attempt + 1),
            )


courier = Courier()
