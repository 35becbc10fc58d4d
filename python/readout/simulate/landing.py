"""The output folder: refuse to clobber what the simulator does not own, replace what it does.

A landing zone is shared with ``readout import``. The simulator owns ``events/`` (all of it),
``experiments/experiments.parquet`` and a ``manifest.json`` whose ``generator`` is ``readout.simulate``.
It leaves the importer's files alone (``imports/``, ``experiments/import_*.parquet``) as well as the
zero-row ``_empty.parquet`` placeholders. Anything else makes it refuse, unless ``--force``: then
``events/``, ``experiments/experiments.parquet`` and ``manifest.json`` are replaced and every other
file is still left alone.

New output is written to a staging folder inside ``--out`` and moved into place only when complete,
so a failed run leaves the previous output intact. The staging folder holds a marker file that its run
keeps locked: a run that was killed (even by SIGKILL) leaves an unlocked marker, and the next run removes
that folder; a locked one belongs to a run still going, and the new run refuses; a staging folder without
the marker was not made by the simulator and is left alone (unless ``--force``).

An append (``--append``) only adds: it needs a landing zone whose manifest and event files agree
(``check_appendable``), and ``publish_append`` moves its new event files in beside the old ones, replaces
the export only when it changed, and the manifest last.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import time
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a marked staging folder is then taken as stale
    fcntl = None

from .. import contract

GENERATOR = "readout.simulate"
STAGING = ".readout-simulate.tmp"
MARKER = ".readout-simulate-run.json"  #: inside STAGING: who made it; locked while its run is alive
_LOCKS: dict[Path, IO[str]] = {}  #: staging folder -> its open, locked marker
EXPERIMENTS_FILE = "experiments.parquet"
EVENT_FILE_PATTERN = "part-*.parquet"
PLACEHOLDER = "_empty.parquet"  #: zero-row file other tools put in an otherwise empty landing folder
IMPORTS_DIR = contract.IMPORTS_DIR
#: Top-level entries that never make the simulator refuse.
TOP_LEVEL_KNOWN = {
    contract.EVENTS_DIR,
    contract.EXPERIMENTS_DIR,
    contract.MANIFEST_FILE,
    IMPORTS_DIR,
    STAGING,
    ".gitkeep",
    ".DS_Store",
}
EXPERIMENT_CO_TENANTS = ("import_*.parquet", PLACEHOLDER)


class LandingError(Exception):
    """The output folder cannot be used; the message says why."""


def _manifest_generator(path: Path) -> str | None:
    try:
        generator = json.loads(path.read_text()).get("generator")
    except (OSError, ValueError, AttributeError):
        return None
    return generator if isinstance(generator, str) else None


def _problems(out: Path) -> list[str]:
    problems = []
    foreign = sorted(p.name for p in out.iterdir() if p.name not in TOP_LEVEL_KNOWN)
    if foreign:
        problems.append(f"it holds files the simulator does not own ({', '.join(foreign[:5])})")
    manifest = out / contract.MANIFEST_FILE
    ours = manifest.exists() and _manifest_generator(manifest) == GENERATOR
    if manifest.exists() and not ours:
        problems.append(f"its {contract.MANIFEST_FILE} was not written by readout simulate")
    events = out / contract.EVENTS_DIR
    if events.exists() and not events.is_dir():
        problems.append(f"{contract.EVENTS_DIR} is not a folder")
    elif events.is_dir():
        entries = sorted(p.name for p in events.iterdir() if p.name != PLACEHOLDER)
        odd = [name for name in entries if not fnmatch.fnmatch(name, EVENT_FILE_PATTERN)]
        if odd:
            problems.append(f"{contract.EVENTS_DIR}/ holds files the simulator did not write ({', '.join(odd[:3])})")
        elif entries and not ours:
            problems.append(
                f"{contract.EVENTS_DIR}/ holds event files but there is no {contract.MANIFEST_FILE} "
                "from readout simulate"
            )
    experiments = out / contract.EXPERIMENTS_DIR
    if experiments.exists() and not experiments.is_dir():
        problems.append(f"{contract.EXPERIMENTS_DIR} is not a folder")
    elif experiments.is_dir():
        odd = sorted(
            p.name
            for p in experiments.iterdir()
            if p.name != EXPERIMENTS_FILE
            and not any(fnmatch.fnmatch(p.name, pattern) for pattern in EXPERIMENT_CO_TENANTS)
        )
        if odd:
            problems.append(
                f"{contract.EXPERIMENTS_DIR}/ holds files the simulator did not write ({', '.join(odd[:3])})"
            )
        elif (experiments / EXPERIMENTS_FILE).exists() and not ours:
            problems.append(
                f"{contract.EXPERIMENTS_DIR}/{EXPERIMENTS_FILE} exists but there is no "
                f"{contract.MANIFEST_FILE} from readout simulate"
            )
    return problems


def check_output(out: Path, force: bool) -> None:
    """Raise LandingError unless ``out`` is absent, empty, or a previous simulator output (or ``force``)."""
    if out.exists() and not out.is_dir():
        raise LandingError(f"--out {out} exists and is not a folder")
    if force and out.exists():
        for name in (contract.EVENTS_DIR, contract.EXPERIMENTS_DIR):
            if (out / name).exists() and not (out / name).is_dir():
                raise LandingError(f"--out {out}: {name} is not a folder")
    if not out.exists() or force:
        return
    problems = _problems(out)
    if problems:
        raise LandingError(
            f"--out {out} does not look like a simulator landing zone: {'; '.join(problems)}. "
            "Choose another folder, or pass --force to replace its events/, "
            f"experiments/{EXPERIMENTS_FILE} and manifest.json (other files are left alone)"
        )


def check_appendable(out: Path) -> dict:
    """The manifest of the simulator landing zone ``out``, after checking that an append may add to it:
    written by readout simulate, holding nothing foreign, and every event file the manifest lists present
    and no other. Raises LandingError naming the problem."""
    manifest_path = out / contract.MANIFEST_FILE
    if not out.is_dir() or not manifest_path.is_file():
        raise LandingError(
            f"--append: --out {out} holds no landing zone of readout simulate (no "
            f"{contract.MANIFEST_FILE}); write one first with readout simulate --as-of TIME"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("generator") != GENERATOR:
        raise LandingError(
            f"--append: {manifest_path} was not written by readout simulate; append only to a "
            "landing zone the simulator wrote"
        )
    problems = _problems(out)
    if problems:
        raise LandingError(f"--append: --out {out} holds more than the simulator wrote: {'; '.join(problems)}")
    listed = {f.get("path") for f in manifest.get("files") or [] if isinstance(f, dict)}
    listed = {path for path in listed if isinstance(path, str) and path.startswith(contract.EVENTS_DIR + "/")}
    events = out / contract.EVENTS_DIR
    present = (
        {f"{contract.EVENTS_DIR}/{p.name}" for p in events.iterdir() if p.name != PLACEHOLDER}
        if events.is_dir()
        else set()
    )
    missing, extra = sorted(listed - present), sorted(present - listed)
    if missing:
        raise LandingError(
            f"--append: {out / missing[0]} is listed in {contract.MANIFEST_FILE} but missing"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; landing files are never rewritten: write the landing zone again"
        )
    if extra:
        raise LandingError(
            f"--append: {out / extra[0]} is not listed in {contract.MANIFEST_FILE}"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else "")
            + "; remove it or write the landing zone again"
        )
    return manifest


def _lock(handle: IO[str]) -> bool:
    """Take the marker's lock without waiting; False when another live process holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def remove_stale_staging(out: Path, force: bool = False) -> dict | None:
    """Remove the staging folder a killed run left in ``out``; return its marker (None if there was none).

    Raises LandingError when a run is still writing there, or when the folder has no marker (then it was
    not made by the simulator; ``force`` removes it all the same).
    """
    staging = out / STAGING
    if not staging.exists() and not staging.is_symlink():
        return None
    marker = staging / MARKER
    if not staging.is_dir() or staging.is_symlink() or not marker.is_file():
        if not force:
            raise LandingError(
                f"--out {out} holds {STAGING}, which has no marker of readout simulate; remove it, "
                "or pass --force to replace it"
            )
        info: dict = {"pid": None}
    else:
        with open(marker, "a+") as handle:
            if not _lock(handle):
                raise LandingError(
                    f"another readout simulate ({_who(marker)}) is writing to --out {out}; "
                    "wait for it to finish, or stop it"
                )
            handle.seek(0)
            try:
                info = json.loads(handle.read())
            except ValueError:
                info = {"pid": None}
    if staging.is_symlink() or staging.is_file():
        staging.unlink()
    else:
        shutil.rmtree(staging)
    return info if isinstance(info, dict) else {"pid": None}


def _who(marker: Path) -> str:
    try:
        pid = json.loads(marker.read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        pid = None
    return f"PID {pid}" if pid else "another process"


def start_staging(out: Path) -> Path:
    """Make the staging folder with its locked marker (the lock lasts until publish or abandon)."""
    staging = out / STAGING
    try:
        staging.mkdir()
    except FileExistsError:
        raise LandingError(f"another readout simulate is starting in --out {out}; wait for it to finish") from None
    handle = open(staging / MARKER, "w")
    _lock(handle)
    handle.write(
        json.dumps(
            {
                "generator": GENERATOR,
                "pid": os.getpid(),
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
        + "\n"
    )
    handle.flush()
    _LOCKS[staging] = handle
    (staging / contract.EVENTS_DIR).mkdir()
    (staging / contract.EXPERIMENTS_DIR).mkdir()
    return staging


def _release(staging: Path) -> None:
    handle = _LOCKS.pop(staging, None)
    if handle is not None:
        handle.close()  # closing drops the lock


def publish(out: Path, staging: Path) -> None:
    """Move the staged output into ``out``: events/ wholesale, the export file and the manifest one by one."""
    events = out / contract.EVENTS_DIR
    if events.is_symlink() or events.is_file():
        events.unlink()
    elif events.exists():
        shutil.rmtree(events)
    (staging / contract.EVENTS_DIR).rename(events)
    experiments = out / contract.EXPERIMENTS_DIR
    experiments.mkdir(exist_ok=True)
    os.replace(staging / contract.EXPERIMENTS_DIR / EXPERIMENTS_FILE, experiments / EXPERIMENTS_FILE)
    os.replace(staging / contract.MANIFEST_FILE, out / contract.MANIFEST_FILE)
    _release(staging)
    shutil.rmtree(staging)


def publish_append(out: Path, staging: Path, event_files: list[str], replace_experiments: bool) -> None:
    """Move an append's new event files (paths under events/) into ``out`` beside the existing ones, the
    export if it changed, and the manifest last. Never replaces an event file."""
    taken = [path for path in event_files if (out / path).exists() or (out / path).is_symlink()]
    if taken:
        raise LandingError(f"--append: {out / taken[0]} already exists; landing files are never rewritten")
    for path in event_files:
        os.rename(staging / path, out / path)
    if replace_experiments:
        os.replace(
            staging / contract.EXPERIMENTS_DIR / EXPERIMENTS_FILE, out / contract.EXPERIMENTS_DIR / EXPERIMENTS_FILE
        )
    os.replace(staging / contract.MANIFEST_FILE, out / contract.MANIFEST_FILE)
    _release(staging)
    shutil.rmtree(staging)


def abandon(staging: Path) -> None:
    """Remove the staging folder of a run that stopped before publishing (nothing left after publish)."""
    _release(staging)
    shutil.rmtree(staging, ignore_errors=True)
