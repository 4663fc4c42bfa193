"""``--engine dask``: the same report, section by section, computed on a real Dask cluster.

One local cluster of two worker processes serves the in-process tests; a scheduler and two
``dask worker`` processes started from the command line serve the end-to-end one.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster, WorkerPlugin
from typer.testing import CliRunner

from tests.conftest import ROOT, free_port, invoke, run_botistat, write_jsonl, write_text
from tests.datasets import write_dataset
from tests.object_store import s3_server, upload

PRESETS = ROOT / "tests" / "fixtures" / "presets"


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    """A local cluster of two single-threaded worker processes."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def scheduler(local_cluster: LocalCluster) -> str:
    address: str = local_cluster.scheduler_address
    return address


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Conversations spread over JSON Lines, CSV, TSV and gzip files, malformed lines too."""
    directory = tmp_path_factory.mktemp("logs")
    write_dataset(random.Random(20), directory, 250, nested=False)
    return directory


def report(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(runner, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def assert_same_sections(on_cluster: dict[str, Any], local: dict[str, Any]) -> None:
    assert on_cluster.keys() == local.keys()
    for section, expected in local.items():
        assert on_cluster[section] == expected, section


@pytest.mark.parametrize("by", [None, "model", "country", "day"])
def test_a_cluster_reports_what_one_process_does(
    cli: CliRunner, scheduler: str, dataset: Path, by: str | None
) -> None:
    grouped = ["--by", by] if by else []
    local = report(cli, str(dataset), *grouped)
    on_cluster = report(cli, str(dataset), *grouped, "--engine", "dask", "--scheduler", scheduler)
    assert_same_sections(on_cluster, local)
    assert local["input"]["skipped"] > 0  # the malformed lines are counted the same


def test_large_files_are_read_in_byte_ranges_with_the_same_numbers(
    cli: CliRunner, scheduler: str, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botistat.engine import ranges as cut
    from botistat.ingest import resolve_sources, scan

    # Blocks of 2 KiB (in this process and, told by the client, on the workers), 8 KiB ranges.
    monkeypatch.setattr(scan, "DEFAULT_BLOCK_SIZE", 2 << 10)
    monkeypatch.setattr(cut, "PIECE_BYTES", 8 << 10)
    jsonl = resolve_sources([str(dataset / "a.jsonl")])[0]
    ranges = cut.byte_ranges(jsonl)
    data = (dataset / "a.jsonl").read_bytes()
    assert len(ranges) > 5
    assert ranges[0].offset == 0 and ranges[-1].limit == len(data)
    assert b"".join(data[r.offset : r.limit] for r in ranges) == data
    assert all(data[r.offset - 1 : r.offset] == b"\n" for r in ranges[1:])
    local = report(cli, str(dataset), "--by", "user_id")
    on_cluster = report(
        cli, str(dataset), "--by", "user_id", "--engine", "dask", "--scheduler", scheduler
    )
    assert_same_sections(on_cluster, local)
    # The malformed lines are named by their line in the whole file.
    assert any(":" in example for example in local["input"]["skipped_examples"])


def test_a_range_without_a_required_field_does_not_skip_its_file(
    cli: CliRunner, scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file has roles, though its first range has none: it is read as a whole file is
    (its records without a role skipped and counted), with --strict too."""
    from botistat.engine import ranges as cut
    from botistat.ingest import resolve_sources, scan

    monkeypatch.setattr(scan, "DEFAULT_BLOCK_SIZE", 1 << 10)
    monkeypatch.setattr(cut, "PIECE_BYTES", 4 << 10)
    at = "2026-11-20T00:00:00Z"
    rows: list[dict[str, Any]] = [{"timestamp": at, "conversation_id": f"c{i}"} for i in range(200)]
    rows += [{"timestamp": at, "conversation_id": "c", "role": "user"}] * 3
    log = write_jsonl(tmp_path / "late-roles.jsonl", rows)
    assert len(cut.byte_ranges(resolve_sources([str(log)])[0])) > 2
    local = report(cli, str(log))
    assert local["input"]["records"] == 3
    assert_same_sections(report(cli, str(log), "--engine", "dask", "--scheduler", scheduler), local)
    strict_local = invoke(cli, "report", str(log), "--strict")
    strict_cluster = invoke(
        cli, "report", str(log), "--strict", "--engine", "dask", "--scheduler", scheduler
    )
    assert strict_local.exit_code == strict_cluster.exit_code == 2
    assert strict_cluster.stderr == strict_local.stderr


def test_message_ids_merge_across_files_on_a_cluster(
    cli: CliRunner, scheduler: str, tmp_path: Path
) -> None:
    """A response logged under one message id in three files is folded into one record."""
    rng = random.Random(7)
    start = datetime(2026, 11, 20, tzinfo=UTC)
    files: list[list[dict[str, Any]]] = [[], [], []]
    for conversation in range(60):
        at = start + timedelta(minutes=conversation)
        files[rng.randrange(3)].append(
            {"timestamp": at.isoformat(), "conversation_id": f"c{conversation}", "role": "user"}
        )
        for copy, tokens in enumerate((100, 250, 400)):
            reply = at + timedelta(seconds=2 + copy)
            files[rng.randrange(3)].append(
                {
                    "timestamp": reply.isoformat(),
                    "conversation_id": f"c{conversation}",
                    "role": "bot",
                    "msg": f"r{conversation}",
                    "total_tokens": tokens,
                }
            )
    for index, records in enumerate(files):
        write_jsonl(tmp_path / "logs" / f"part-{index}.jsonl", records)
    config = write_text(tmp_path / "botistat.yaml", "fields:\n  message_id: msg\n")
    args = [str(tmp_path / "logs"), "-c", str(config), "--by", "hour"]
    local = report(cli, *args)
    assert local["input"]["merged"] == 120
    assert_same_sections(report(cli, *args, "--engine", "dask", "--scheduler", scheduler), local)


def test_a_detected_preset_reads_the_same_on_a_cluster(cli: CliRunner, scheduler: str) -> None:
    logs = str(PRESETS / "claude-code")
    local = report(cli, logs)
    assert local["input"]["preset"] == "claude-code"
    assert local["input"]["merged"] > 0
    assert_same_sections(report(cli, logs, "--engine", "dask", "--scheduler", scheduler), local)


def test_skipped_files_and_a_time_range_with_a_comparison(
    cli: CliRunner, scheduler: str, dataset: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(dataset, logs)
    (logs / "binary.jsonl").write_bytes(b"\x00\x01\x02" * 100)
    (logs / "other.csv").write_text("a,b\n1,2\n")
    args = [str(logs), "--since", "2026-11-17T06:00:00Z", "--until", "2026-11-18T00:00:00Z"]
    local = report(cli, *args, "--compare", "previous")
    assert len(local["input"]["skipped_files"]) == 2
    on_cluster = report(
        cli, *args, "--compare", "previous", "--engine", "dask", "--scheduler", scheduler
    )
    assert_same_sections(on_cluster, local)


class DieParsing(WorkerPlugin):
    """Kills its worker as it starts parsing an input, while the file ``armed`` exists; with
    ``once``, the worker that removes the file dies, the others go on (the file tells them,
    and the one its nanny starts again, that it happened)."""

    def __init__(self, armed: str, once: bool) -> None:
        self.armed = Path(armed)
        self.once = once

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or not str(key).startswith("botistat-parse"):
            return
        if not self.once and self.armed.exists():
            os._exit(1)
        with contextlib.suppress(FileNotFoundError):
            self.armed.unlink()
            os._exit(1)


@contextlib.contextmanager
def dying_workers(address: str, armed: Path, *, once: bool) -> Iterator[None]:
    armed.touch()
    with Client(address, set_as_default=False) as client:
        client.register_plugin(DieParsing(str(armed), once), name="die-parsing")
        try:
            yield
        finally:
            armed.unlink(missing_ok=True)
            client.wait_for_workers(2, timeout=60)  # the nannies' new ones, for the next tests
            client.unregister_worker_plugin("die-parsing")


def test_a_worker_lost_mid_run_is_replaced_and_the_numbers_stay(
    cli: CliRunner, scheduler: str, dataset: Path, tmp_path: Path
) -> None:
    armed = tmp_path / "armed"
    local = report(cli, str(dataset))
    with dying_workers(scheduler, armed, once=True):
        on_cluster = report(cli, str(dataset), "--engine", "dask", "--scheduler", scheduler)
        assert not armed.exists()  # a worker died
    assert_same_sections(on_cluster, local)


def test_workers_dying_on_one_task_is_one_line_and_exit_2(
    cli: CliRunner, local_cluster: LocalCluster, dataset: Path, tmp_path: Path
) -> None:
    scheduler = local_cluster.scheduler
    allowed = scheduler.allowed_failures
    scheduler.allowed_failures = 0  # the first death ends the run
    try:
        with dying_workers(local_cluster.scheduler_address, tmp_path / "armed", once=False):
            result = invoke(
                cli,
                *("report", str(dataset), "--engine", "dask"),
                *("--scheduler", local_cluster.scheduler_address),
            )
    finally:
        scheduler.allowed_failures = allowed
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("botistat: error: every Dask worker that ran task botistat-parse-")
    assert lines[0].endswith(f" died (1) ({local_cluster.scheduler_address})")
    assert lines[1].startswith("  hint: see the workers' logs")


def test_the_progress_bar_counts_inputs_parsed_then_partitions_on_the_cluster(
    scheduler: str, dataset: Path
) -> None:
    from botistat.api import ReportRequest, make_report
    from botistat.core.config import Config

    seen: list[int] = []
    partitions: list[tuple[int, int]] = []

    class Display:
        def read(self, nbytes: int) -> None:
            assert not partitions, "bytes parsed after the partitions began"
            seen.append(nbytes)

        def analysing(self, done: int, total: int) -> None:
            partitions.append((done, total))

    @contextlib.contextmanager
    def progress(total: int) -> Iterator[Display]:
        seen.append(total)
        yield Display()

    request = ReportRequest(paths=[str(dataset)], engine="dask", scheduler=scheduler)
    make_report(request, Config(), progress)
    total, *done = seen
    assert total == sum(path.stat().st_size for path in dataset.iterdir())
    assert sum(done) == total
    assert len(done) == 6  # an input parsed, a step
    # Then the partitions, as the client receives their partials: 0 of n, ..., n of n.
    count = partitions[-1][1]
    assert count > 1 and partitions == [(k, count) for k in range(count + 1)]


def test_check_and_email_run_on_the_cluster_too(
    cli: CliRunner, scheduler: str, dataset: Path, tmp_path: Path
) -> None:
    on_cluster = ["--engine", "dask", "--scheduler", scheduler]
    gate = ["-t", "messages.total > 1000", "-t", "errors.rate < 1%"]
    local = invoke(cli, "check", str(dataset), *gate, "--format", "json")
    checked = invoke(cli, "check", str(dataset), *gate, "--format", "json", *on_cluster)
    assert local.exit_code == checked.exit_code == 1  # the error rate is above 1%
    assert checked.stdout == local.stdout
    mail = invoke(
        cli,
        "email",
        str(dataset),
        "--to",
        "team@example.com",
        "--dry-run",
        "-o",
        str(tmp_path / "m.eml"),
        *on_cluster,
    )
    assert mail.exit_code == 0, mail.stderr
    assert "messages" in (tmp_path / "m.eml").read_text()


def test_strict_fails_on_the_first_bad_line_in_input_order(
    cli: CliRunner, scheduler: str, dataset: Path
) -> None:
    local = invoke(cli, "report", str(dataset), "--strict")
    on_cluster = invoke(
        cli, "report", str(dataset), "--strict", "--engine", "dask", "--scheduler", scheduler
    )
    assert local.exit_code == on_cluster.exit_code == 2
    assert on_cluster.stderr == local.stderr
    assert "a.jsonl:" in local.stderr


def test_no_records_in_any_input_is_the_same_error(
    cli: CliRunner, scheduler: str, tmp_path: Path
) -> None:
    write_text(tmp_path / "a.jsonl", "[1]\n")
    write_text(tmp_path / "b.csv", "x,y\n1,2\n")
    local = invoke(cli, "report", str(tmp_path))
    on_cluster = invoke(cli, "report", str(tmp_path), "--engine", "dask", "--scheduler", scheduler)
    assert local.exit_code == on_cluster.exit_code == 2
    assert on_cluster.stderr == local.stderr


def test_an_unreachable_scheduler_is_one_line_and_exit_2(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botistat.engine import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    log = write_jsonl(tmp_path / "a.jsonl", [{"timestamp": "2026-11-20T00:00:00Z"}])
    address = f"tcp://127.0.0.1:{free_port()}"
    result = invoke(cli, "report", str(log), "--engine", "dask", "--scheduler", address)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"botistat: error: cannot reach the Dask scheduler at {address} (--scheduler)"
    )
    assert "Traceback" not in result.stderr


def test_workers_with_another_polars_are_refused(
    cli: CliRunner, scheduler: str, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conversations are split by Polars' hash, which another version may compute otherwise."""
    import importlib.metadata

    # In this process only: the workers read their own.
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0.1")
    result = invoke(cli, "report", str(dataset), "--engine", "dask", "--scheduler", scheduler)
    assert result.exit_code == 2
    assert "this client botistat 0.0.1 with polars 0.0.1 (--scheduler)" in result.stderr


def test_a_scheduler_without_workers_is_one_line_and_exit_2(
    cli: CliRunner, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botistat.engine import cluster

    monkeypatch.setattr(cluster, "WORKER_TIMEOUT", 1)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        address = empty.scheduler_address
        result = invoke(cli, "report", str(dataset), "--engine", "dask", "--scheduler", address)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"botistat: error: no Dask worker joined the scheduler in 1 s ({address})",
        f"  hint: start workers with `dask worker {address}`",
    ]


def test_standard_input_is_refused_on_a_cluster(cli: CliRunner, scheduler: str) -> None:
    line = '{"timestamp": "2026-11-20T00:00:00Z", "conversation_id": "c", "role": "user"}\n'
    result = invoke(cli, "report", "-", "--engine", "dask", "--scheduler", scheduler, input=line)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "botistat: error: the dask engine cannot read standard input (--engine dask)"
    )


def test_without_distributed_the_error_names_the_extra(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    log = write_jsonl(tmp_path / "a.jsonl", [{"timestamp": "2026-11-20T00:00:00Z"}])
    result = invoke(cli, "report", str(log), "--engine", "dask")
    assert result.exit_code == 2
    assert "pip install 'botistat[dask]'" in result.stderr


def test_the_engine_and_scheduler_come_from_the_config(
    cli: CliRunner, scheduler: str, dataset: Path, tmp_path: Path
) -> None:
    config = write_text(tmp_path / "c.yaml", f"engine: dask\nscheduler: {scheduler}\n")
    local = report(cli, str(dataset), "--engine", "local", "-c", str(config))
    assert_same_sections(report(cli, str(dataset), "-c", str(config)), local)
    bad = write_text(tmp_path / "bad.yaml", "engine: spark\n")
    result = invoke(cli, "report", str(dataset), "-c", str(bad))
    assert result.exit_code == 2
    assert "engine must be one of: local, dask" in result.stderr


# ------------------------------------------------- a scheduler and workers from the command line


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local S3 server, and the environment that points clients and workers at it."""
    with s3_server(tmp_path_factory.mktemp("moto")) as env:
        yield env


@pytest.fixture(scope="module")
def command_line_cluster(
    tmp_path_factory: pytest.TempPathFactory, s3: dict[str, str]
) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes, as a user starts them (in an
    environment with S3 credentials)."""
    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [str(Path(sys.executable).with_name("dask"))]
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log: str) -> None:
        with (logs / log).open("wb") as out:
            started.append(
                subprocess.Popen(
                    [*dask, *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                    env={**os.environ, **s3},
                )
            )

    try:
        start(
            "scheduler",
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--no-dashboard", "--dashboard-address", "127.0.0.1:0"),
            log="s",
        )
        for number in range(2):
            start("worker", address, "--nthreads", "1", "--no-dashboard", log=f"w{number}")
        _wait_for_workers(address, 2)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(timeout=30)


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout="2s", set_as_default=False) as client:
                client.wait_for_workers(count, timeout=60)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_scheduler_and_two_workers_started_by_hand(
    command_line_cluster: str, dataset: Path
) -> None:
    local = run_botistat("report", str(dataset), "--format", "json", "--by", "channel")
    on_cluster = run_botistat(
        "report",
        str(dataset),
        "--format",
        "json",
        "--by",
        "channel",
        "--engine",
        "dask",
        "--scheduler",
        command_line_cluster,
    )
    assert on_cluster.returncode == local.returncode == 0, on_cluster.stderr
    assert on_cluster.stderr == local.stderr
    assert_same_sections(json.loads(on_cluster.stdout), json.loads(local.stdout))


def test_an_s3_copy_on_a_scheduler_and_two_workers(
    command_line_cluster: str, dataset: Path, s3: dict[str, str]
) -> None:
    url = upload(s3, dataset, "cluster-logs", "day")
    local = run_botistat("report", str(dataset), "--format", "json", "--by", "model")
    on_cluster = run_botistat(
        *("report", f"{url}/", "--format", "json", "--by", "model"),
        *("--engine", "dask", "--scheduler", command_line_cluster),
        env=s3,
    )
    assert on_cluster.returncode == local.returncode == 0, on_cluster.stderr
    named_locally = on_cluster.stdout.decode().replace(url, str(dataset))
    assert_same_sections(json.loads(named_locally), json.loads(local.stdout))


def test_engine_dask_alone_starts_a_cluster_on_this_machine(tmp_path: Path) -> None:
    """Its worker processes are spawned, and import ``python -m botistat``'s main module
    again: they must not run the command."""
    log = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"timestamp": "2026-11-20T00:00:00Z", "conversation_id": "c", "role": "user"},
            {"timestamp": "2026-11-20T00:00:03Z", "conversation_id": "c", "role": "bot"},
        ],
    )
    local = run_botistat("report", str(log), "--format", "json")
    on_cluster = run_botistat("report", str(log), "--format", "json", "--engine", "dask")
    assert on_cluster.returncode == 0, on_cluster.stderr
    assert on_cluster.stdout == local.stdout
    assert on_cluster.stderr == b"", on_cluster.stderr.decode()


def test_a_cache_is_not_used_on_a_cluster_and_says_so(
    cli: CliRunner, scheduler: str, dataset: Path, tmp_path: Path
) -> None:
    """The workers read the inputs themselves: a cache asked for is left alone, with a
    warning, and the numbers are the cluster's (and one process's)."""
    cache = tmp_path / "cache"
    args = [str(dataset), "--format", "json", "--cache", str(cache)]
    result = invoke(cli, "report", *args, "--engine", "dask", "--scheduler", scheduler)
    assert result.exit_code == 0, result.stderr
    assert "not used on a Dask cluster" in result.stderr
    assert not cache.exists() or not any(cache.iterdir())
    assert_same_sections(json.loads(result.stdout), report(cli, str(dataset)))


def test_task_counts_follow_the_cluster_not_the_client() -> None:
    """At scale the tasks stay few: ranges grow past 128 MiB to about four a worker thread,
    and partitions are sized by a worker thread's memory (the local rule: an eighth of it
    in columns), at least two a thread; without a memory limit the client's count stands."""
    from botistat.engine.cluster import cluster_partitions
    from botistat.engine.partition import estimated_frame_bytes
    from botistat.engine.ranges import PIECE_BYTES, piece_bytes
    from botistat.ingest import Source

    terabyte = 10**12
    assert piece_bytes(terabyte, 100) == terabyte // 400  # 400 parse tasks
    assert piece_bytes(300 << 20, 2) == PIECE_BYTES  # small inputs: the reader's ranges
    logs = [
        Source(name=f"part-{k}.jsonl", path=None, format="jsonl", gzip=False, size=terabyte // 10)
        for k in range(10)
    ]
    columns = estimated_frame_bytes(logs)
    assert columns is not None
    workers = [(8 << 30, 1)] * 100  # 100 workers of 8 GiB, a thread each
    partitions = cluster_partitions(logs, 3726, workers)
    assert partitions == -(-columns // (1 << 30))  # 1 GiB of columns each
    assert 400 * partitions < 10**6  # piece tasks: hundreds of thousands, not 28 million
    assert cluster_partitions(logs[:1], 0, [(0, 4)]) == 8  # no memory limit: 2 a thread
    assert cluster_partitions(logs, 3726, [(0, 4)]) == 3726
