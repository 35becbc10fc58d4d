"""What raw validation remembers about an immutable landing table, and the check that its files did not change.

One folder per landing zone under the cache folder (``--cache-dir``, default build/validation_cache):
``<landing folder name>-<hash of its absolute path>/``, holding

* ``<contract>.json``: per landing file (path relative to the landing zone), its fingerprint (size and the
  SHA-256 of its Parquet footer), columns and declared schema version and, once its rows were validated, the
  result (batches.py): the counts per rule and partition, the table-level values, the as-of ranges, the
  context it was validated in and when;
* ``<contract>.keys/<footer hash>.parquet``: the file's keys for the rules across files (zone.py);
* ``<contract>.index.duckdb``: the key index (keyindex.py): every validated file's keys and the rules' counts
  across files, updated with the new files' keys only.

Deleting the folder only costs a full validation. The footer holds every row group's offsets, sizes, row
counts and column statistics, so a rewritten file almost always changes it; reading it is cheap at any file
size (the whole file is read once, when it is validated).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

import duckdb

from .load import Contract
from .read import LandingFile, events_begin, ident

CACHE_FORMAT = 2  #: bump when a change to the validator changes what a cached file's counts mean
SAVE_EVERY_SECONDS = 10.0  #: while validating many files, progress is saved this often (an interrupted run resumes)
_OTHER_ALIAS = re.compile(r"\b(?!t\.)[a-z_]\w*\.([a-z_]\w*)", re.IGNORECASE)


class LandingChanged(ValueError):
    """A landing file changed or disappeared after it was validated; the message names it."""


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()


def fingerprint(path: Path) -> dict:
    """Size and the SHA-256 of the Parquet footer, read from the file's end. A file that is not Parquet: of its
    last 64 KiB."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        tail = b""
        if size >= 12:
            handle.seek(size - 8)
            tail = handle.read(8)
        if tail[4:] == b"PAR1" and int.from_bytes(tail[:4], "little") + 12 <= size:
            length = int.from_bytes(tail[:4], "little")
            handle.seek(size - 8 - length)
            data = handle.read(length)
        else:
            handle.seek(max(0, size - 65536))
            data = handle.read()
    return {"size": size, "footer_sha256": hashlib.sha256(data).hexdigest()}


def _seen(record: dict) -> str:
    validated = (record.get("validation") or {}).get("validated_at")
    moment = str(validated or record.get("seen_at") or "?")[:16].replace("T", " ")
    return f"{'validated' if validated else 'first read'} on {moment} UTC"


def check_unchanged(cached: dict[str, dict], landing: Path, present: dict[str, dict]) -> None:
    """Raise LandingChanged naming the first cached file that changed or is gone (and how many more)."""
    gone = sorted(source for source in cached if source not in present)
    changed = sorted(
        source
        for source in cached
        if source in present
        and (present[source]["size"], present[source]["footer_sha256"])
        != (cached[source]["size"], cached[source]["footer_sha256"])
    )
    fix = (
        "landing files are immutable: restore it, or if the landing zone was rewritten on purpose (e.g. by "
        "readout simulate --force), validate it afresh with `readout contracts validate --full`"
    )
    more = lambda names: f" (and {len(names) - 1} more)" if len(names) > 1 else ""  # noqa: E731
    if changed:
        source = changed[0]
        was, size = cached[source]["size"], present[source]["size"]
        what = f"{was:,} -> {size:,} bytes" if was != size else f"same size, {was:,} bytes, another Parquet footer"
        raise LandingChanged(
            f"landing file {landing / source} changed after it was {_seen(cached[source])} "
            f"({what}){more(changed)}; {fix}"
        )
    if gone:
        source = gone[0]
        raise LandingChanged(
            f"landing file {landing / source} was {_seen(cached[source])} but is gone{more(gone)}; {fix}"
        )


class Cache:
    """The landing zone's cache folder (module docstring). Without a folder it lives in a temporary one for
    the run: nothing is remembered."""

    def __init__(self, contract: Contract, landing: Path, cache_dir: Path | None):
        resolved = landing.resolve()
        self._temp = None
        if cache_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="readout-validation-")
            self.folder = Path(self._temp.name)
        else:
            key = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
            self.folder = Path(cache_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', resolved.name)}-{key}"
        self.path = self.folder / f"{contract.name}.json"
        self.keys_dir = self.folder / f"{contract.name}.keys"
        self.index_path = self.folder / f"{contract.name}.index.duckdb"
        self.landing = str(resolved)
        self.files: dict[str, dict] = {}
        self.persistent = cache_dir is not None
        if self.persistent and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = None
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("landing") != self.landing:
                data = None  # an older validator's or an unreadable cache: nothing to trust, start afresh
            self.files = (data or {}).get("files") or {}
        self._saved = time.monotonic()

    def record(self, files: list[LandingFile], fingerprints: dict[str, dict], full: bool) -> None:
        """Remember every file's fingerprint and metadata (a new file: without a validation yet); ``full``
        forgets everything first. The caller has checked the remembered files with check_unchanged."""
        if full:
            self.files = {}
            shutil.rmtree(self.keys_dir, ignore_errors=True)
            for path in (self.index_path, self.index_path.with_name(self.index_path.name + ".wal")):
                path.unlink(missing_ok=True)
        for f in files:
            entry = self.files.setdefault(f.source, {})
            entry.update(fingerprints[f.source], rows=f.rows, columns=f.columns, declared=f.declared, version=f.version)
            entry.setdefault("seen_at", now())

    def keys_path(self, source: str) -> Path:
        return self.keys_dir / f"{self.files[source]['footer_sha256'][:20]}.parquet"

    def save(self, force: bool = True) -> None:
        if not self.persistent or (not force and time.monotonic() - self._saved < SAVE_EVERY_SECONDS):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(f".json.{os.getpid()}.tmp")
        temp.write_text(
            json.dumps(
                {"format": CACHE_FORMAT, "landing": self.landing, "files": self.files},
                indent=1,
                sort_keys=True,
                default=str,
            )
            + "\n"
        )
        os.replace(temp, self.path)
        self._saved = time.monotonic()

    def close(self) -> None:
        if self._temp is not None:
            self._temp.cleanup()


def context_fingerprint(contract: Contract, rules: list[str], con: duckdb.DuckDBPyConnection) -> str:
    """What a file's cached counts depend on besides the file and the as-of time: the contract, the ids the
    derived columns look up in the experiments export (not its statuses or dates), events_begin, the rules
    run per file and the validator's versions."""
    lookups = sorted(
        {
            column
            for expression in contract.derived_columns.values()
            if "landing_experiments" in expression
            for column in _OTHER_ALIAS.findall(expression)
        }
    )
    available = {
        name
        for (name,) in con.execute("select column_name from (describe select * from landing_experiments)").fetchall()
    }
    columns = [c for c in lookups if c in available] or sorted(available)
    export = (
        con.execute(
            f"select distinct {', '.join(ident(c) for c in columns)} from landing_experiments order by all"
        ).fetchall()
        if columns
        else []
    )
    parts = {
        "format": CACHE_FORMAT,
        "contract": hashlib.sha256(contract.path.read_bytes()).hexdigest(),
        "events_begin": str(events_begin(contract)),
        "export": hashlib.sha256(repr(export).encode()).hexdigest(),
        "duckdb": duckdb.__version__,
        "great_expectations": metadata.version("great_expectations"),  # without importing it (seconds)
        "rules": rules,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
