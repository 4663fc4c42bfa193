"""Where ``watch`` sends its events: stdout, a command, a webhook.

Hooks run in a background thread each, so a slow or failing hook never holds up the watch. A
failure is reported on stderr and retried with growing pauses; after the last try the event
is dropped with a final message, and the watch goes on.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Final, Protocol, TextIO

RETRIES: Final = 4
FIRST_PAUSE: Final = 0.5
HOOK_TIMEOUT: Final = 15.0


class Sink(Protocol):
    def send(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    """One JSON object per line, flushed at once (for pipes and log collectors)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def send(self, event: dict[str, Any]) -> None:
        self._stream.write(json.dumps(event) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()


class HookSink:
    """Delivers events through ``deliver`` in a worker thread, retrying failures."""

    def __init__(
        self,
        name: str,
        deliver: Callable[[bytes], None],
        *,
        retries: int = RETRIES,
        first_pause: float = FIRST_PAUSE,
    ) -> None:
        self._name = name
        self._deliver = deliver
        self._retries = retries
        self._first_pause = first_pause
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"hook {name}", daemon=True)
        self._thread.start()

    def send(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def close(self, timeout: float = 10.0) -> None:
        """Let queued events go out (for at most ``timeout`` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            payload = json.dumps(event).encode()
            pause = self._first_pause
            for attempt in range(1, self._retries + 2):
                try:
                    self._deliver(payload)
                    break
                except Exception as exc:  # a hook must never stop the watch
                    last = attempt > self._retries
                    what = "giving up on this event" if last else f"retrying in {pause:.1f}s"
                    _warn(f"{self._name} failed ({_describe(exc)}); {what}")
                    if last:
                        break
                    time.sleep(pause)
                    pause *= 2


def exec_hook(command: str) -> Callable[[bytes], None]:
    """Run ``command`` in a shell with the event JSON on its stdin; non-zero exit fails."""

    def deliver(payload: bytes) -> None:
        result = subprocess.run(
            command,
            shell=True,
            input=payload,
            capture_output=True,
            timeout=HOOK_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"exit {result.returncode}" + (f": {detail[-1]}" if detail else ""))

    return deliver


def webhook_hook(url: str) -> Callable[[bytes], None]:
    """POST the event JSON to ``url`` (it carries a Slack-compatible ``text`` field)."""

    def deliver(payload: bytes) -> None:
        request = urllib.request.Request(
            url,
            data=payload,
            headers={"Content-Type": "application/json", "User-Agent": "botistat"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=HOOK_TIMEOUT) as response:
            if response.status >= 300:
                raise RuntimeError(f"HTTP {response.status}")

    return deliver


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"no answer within {HOOK_TIMEOUT:.0f}s"
    return str(exc) or type(exc).__name__


def _warn(message: str) -> None:
    print(f"botistat: warning: {message}", file=sys.stderr, flush=True)
