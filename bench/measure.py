"""Measure a command in a child process: wall time, peak private memory (RssAnon sampled from
/proc every 20 ms) and the kernel's peak RSS (VmHWM, sampled likewise); optionally kill it
past a time or memory limit. Shared by the benchmark scripts.

Not ``ru_maxrss`` from ``wait4``: Linux carries the high-water mark across fork and exec, so
a child of a benchmark that holds 480 MB reports at least 480 MB whatever it used itself."""

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
    #: The child's VmHWM: every page it had, file-backed ones (the mapped library) included.
    peak_rss: int
    #: The highest RssAnon sampled: private memory, what the process itself allocated.
    peak_rss_anon: int
    #: "" if the command ran to its end, else why it was killed ("timeout", "memory limit").
    killed: str
    returncode: int
    stdout: bytes
    stderr: bytes


def memory(pid: int) -> tuple[int, int] | None:
    """A process's private resident memory and its peak resident memory in bytes, from
    /proc/PID/status; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    try:
        return (int(fields["RssAnon"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024)
    except (KeyError, ValueError):
        return None  # a zombie: its memory is gone


def measure(
    command: list[str], *, timeout: float | None = None, max_memory: int | None = None
) -> Measured:
    """Run ``command`` to its end (or until a limit kills it) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        peak = 0
        high_water = 0
        killed = ""
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak, high_water, killed
            while not stop.is_set():
                over_time = timeout is not None and time.perf_counter() - start > timeout
                over_memory = max_memory is not None and peak > max_memory
                if over_time or over_memory:
                    killed = "memory limit" if over_memory else "timeout"
                    process.kill()
                    return
                now = memory(process.pid)
                if now is None:
                    return
                peak = max(peak, now[0])
                high_water = max(high_water, now[1])
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status = os.waitpid(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds,
            high_water,
            peak,
            killed,
            process.returncode,
            out.read(),
            err.read(),
        )


def warm_page_cache(files: list[str]) -> None:
    """Read the files once, so that neither engine pays for the disk (the first would)."""
    for name in files:
        with Path(name).open("rb") as handle:
            while handle.read(16 << 20):
                pass


def measure_ok(command: list[str]) -> Measured:
    """:func:`measure`, stopping the benchmark with the end of the command's stderr when it
    fails: a figure of a failed run means nothing."""
    run = measure(command)
    if run.returncode != 0:
        message = run.stderr.decode(errors="replace")[-2000:]
        raise SystemExit(f"{command[:6]} failed ({run.returncode}):\n{message}")
    return run
