"""A local S3 server (moto's) for the tests of inputs named by URL."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port


@contextmanager
def local_server(command: list[str], log: Path) -> Iterator[int]:
    """Run ``command`` (given the port as its last word) until the block ends; yields the
    free port it listens on once it accepts connections."""
    port = free_port()
    server = subprocess.Popen(
        [*command, str(port)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _tool(name: str) -> str:
    """A command installed beside this Python (in the virtualenv)."""
    return str(Path(sys.executable).with_name(name))


@contextmanager
def s3_server(logs: Path) -> Iterator[dict[str, str]]:
    """A moto S3 server on a free port; yields the environment that points s3fs (and boto)
    at it, with dummy credentials."""
    with local_server([_tool("moto_server"), "-H", "127.0.0.1", "-p"], logs / "moto.log") as port:
        yield {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def upload(env: dict[str, str], directory: Path, bucket: str, prefix: str) -> str:
    """Copy the files under ``directory`` to ``s3://bucket/prefix/``; returns that URL."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    client.create_bucket(Bucket=bucket)
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(directory)}")
    return f"s3://{bucket}/{prefix}"


@contextmanager
def gcs_server(logs: Path) -> Iterator[dict[str, str]]:
    """A Google Cloud Storage emulator (gcp-storage-emulator) on a free port; yields the
    environment that points gcsfs at it. gcsfs's newer bucket-type probe (zonal and
    hierarchical buckets, over gRPC) is turned off: the emulator speaks only JSON over HTTP,
    and each probe would wait a minute for it."""
    emulator = [_tool("gcp-storage-emulator"), "start", "-H", "127.0.0.1", "-M", "-q", "--port"]
    with local_server(emulator, logs / "gcs.log") as port:
        yield {
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }


def upload_gcs(env: dict[str, str], directory: Path, bucket: str, prefix: str) -> str:
    """Copy the files under ``directory`` to ``gs://bucket/prefix/``; returns that URL."""
    import gcsfs

    storage = gcsfs.GCSFileSystem(token="anon", endpoint_url=env["STORAGE_EMULATOR_HOST"])
    storage.mkdir(bucket)
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        storage.put_file(str(path), f"{bucket}/{prefix}/{path.relative_to(directory)}")
    return f"gs://{bucket}/{prefix}"
