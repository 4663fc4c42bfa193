"""Inputs named by URL: an ``s3://`` copy of a directory, on a local S3 server (moto's), a
``gs://`` copy on a local Cloud Storage emulator, or the directory served over HTTP, reports
what the directory does."""

from __future__ import annotations

import functools
import json
import random
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import invoke
from tests.datasets import write_dataset
from tests.object_store import gcs_server, s3_server, upload, upload_gcs


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with s3_server(tmp_path_factory.mktemp("moto")) as env:
        yield env


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory, s3: dict[str, str]) -> tuple[Path, str]:
    """A dataset on disk, and the URL of its copy in the bucket."""
    directory = tmp_path_factory.mktemp("logs")
    write_dataset(random.Random(5), directory, 150, nested=False)
    (directory / ".hidden.jsonl").write_text("not a log of ours\n")  # left out, as on disk
    return directory, upload(s3, directory, "botistat-logs", "2026/11")


@pytest.fixture
def in_s3(monkeypatch: pytest.MonkeyPatch, s3: dict[str, str]) -> None:
    for name, value in s3.items():
        monkeypatch.setenv(name, value)


def report(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = invoke(runner, "report", *args, "--format", "json")
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("in_s3")
@pytest.mark.parametrize("by", [None, "model"])
def test_an_s3_prefix_reports_what_the_directory_does(
    cli: CliRunner, logs: tuple[Path, str], by: str | None
) -> None:
    directory, url = logs
    grouped = ["--by", by] if by else []
    code, on_disk, warned = report(cli, str(directory), *grouped)
    assert code == 0
    code, from_s3, warned_s3 = report(cli, f"{url}/", *grouped)
    assert code == 0, warned_s3
    # The same document, but for the names of the files (and of those with skipped lines).
    ours: dict[str, Any] = json.loads(from_s3.replace(url, str(directory)))
    expected: dict[str, Any] = json.loads(on_disk)
    assert expected["input"]["files"] == 6
    for section, value in expected.items():
        assert ours[section] == value, section
    assert warned_s3.replace(url, str(directory)) == warned


@pytest.mark.usefixtures("in_s3")
def test_a_glob_on_s3_matches_as_on_disk(cli: CliRunner, logs: tuple[Path, str]) -> None:
    directory, url = logs
    code, on_disk, _ = report(cli, f"{directory}/*.csv*")
    assert code == 0
    code, from_s3, _ = report(cli, f"{url}/*.csv*")
    assert code == 0
    assert json.loads(from_s3.replace(url, str(directory))) == json.loads(on_disk)
    assert json.loads(on_disk)["input"]["files"] == 2


@pytest.mark.usefixtures("in_s3")
def test_a_missing_prefix_is_one_line_and_exit_2(cli: CliRunner, logs: tuple[Path, str]) -> None:
    _, url = logs
    code, out, err = report(cli, f"{url}/nothing-here/")
    assert (code, out) == (2, "")
    assert err == f"botistat: error: no such file or directory ({url}/nothing-here/)\n"


def test_without_s3fs_the_error_names_the_extra(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    # The module (the package's attribute of that name is a read-only view of its table).
    registry = importlib.import_module("fsspec.registry")
    # Forget the S3 file system if an earlier test imported it.
    known = {k: v for k, v in registry._registry.items() if k not in ("s3", "s3a")}
    monkeypatch.setattr(registry, "_registry", known)
    monkeypatch.setattr(registry, "registry", MappingProxyType(known))
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs fails
    code, out, err = report(cli, "s3://bucket/logs/")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "botistat: error: reading s3:// URLs needs a package that is not installed "
        "(s3://bucket/logs/)",
        "  hint: run: pip install 'botistat[s3]'",
    ]


@pytest.fixture
def web_server(logs: tuple[Path, str]) -> Iterator[str]:
    """The dataset directory served over HTTP (with directory listings), in a thread."""
    directory, _ = logs
    handler = functools.partial(QuietHandler, directory=str(directory))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_http_directory_listing_reads_as_the_directory(
    cli: CliRunner, logs: tuple[Path, str], web_server: str
) -> None:
    directory, _ = logs
    code, on_disk, _ = report(cli, str(directory))
    assert code == 0
    code, over_http, warned = report(cli, f"{web_server}/")
    assert code == 0, warned
    assert json.loads(over_http.replace(web_server, str(directory))) == json.loads(on_disk)


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    import os

    with gcs_server(tmp_path_factory.mktemp("gcs")) as env:
        # Read when gcsfs is first imported, and by each filesystem it makes.
        before = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def test_a_gs_prefix_and_glob_report_what_the_directory_does(
    cli: CliRunner, gcs: dict[str, str], tmp_path: Path
) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    write_dataset(random.Random(7), directory, 80, nested=False)
    url = upload_gcs(gcs, directory, "botistat-logs", "2026/11")
    for local, remote in ((str(directory), f"{url}/"), (f"{directory}/*.csv*", f"{url}/*.csv*")):
        code, on_disk, warned = report(cli, local)
        assert code == 0
        code, from_gcs, warned_gcs = report(cli, remote)
        assert code == 0, warned_gcs
        assert json.loads(from_gcs.replace(url, str(directory))) == json.loads(on_disk)
        assert warned_gcs.replace(url, str(directory)) == warned
