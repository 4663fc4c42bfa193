"""Ingestion: inputs plus a field mapping in, one canonical LazyFrame out."""

from botistat.ingest.scan import Scan, scan_sources
from botistat.ingest.sources import FORMATS, Format, Source, resolve_sources

__all__ = ["FORMATS", "Format", "Scan", "Source", "resolve_sources", "scan_sources"]
