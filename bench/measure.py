"""Measure a command in a child process: wall time, peak private memory (RssAnon sampled from
/proc every 20 ms) and the kernel's peak RSS (``ru_maxrss`` from ``wait4``); optionally kill
it past a time or memory limit. Shared by the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    seconds: float
    #: The kernel's ru_maxrss of the child: every page it had, file-backed ones included.
    peak_rss: int
    #: The highest RssAnon sampled: private memory, what the process itself allocated.
    peak_rss_anon: int
    #: "" if the command ran to its end, else why it was killed ("timeout", "memory limit").
    killed: str
    returncode: int
    stdout: bytes
    stderr: bytes


def rss_anon(pid: int) -> int | None:
    """A process's private resident memory in bytes; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return 0


def measure(
    command: list[str], *, timeout: float | None = None, max_memory: int | None = None
) -> Measured:
    """Run ``command`` to its end (or until a limit kills it) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        peak = 0
        killed = ""
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak, killed
            while not stop.is_set():
                over_time = timeout is not None and time.perf_counter() - start > timeout
                over_memory = max_memory is not None and peak > max_memory
                if over_time or over_memory:
                    killed = "memory limit" if over_memory else "timeout"
                    process.kill()
                    return
                now = rss_anon(process.pid)
                if now is None:
                    return
                peak = max(peak, now)
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4, not Popen.wait: it also gives the child's resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds,
            usage.ru_maxrss * 1024,
            peak,
            killed,
            process.returncode,
            out.read(),
            err.read(),
        )
