"""The output folder: refuse to clobber what the simulator does not own, replace what it does.

A landing zone is shared with ``readout import``. The simulator owns ``events/`` (all of it),
``experiments/experiments.parquet`` and a ``manifest.json`` whose ``generator`` is ``readout.simulate``.
It leaves the importer's files alone (``imports/``, ``experiments/import_*.parquet``) as well as the
zero-row ``_empty.parquet`` placeholders. Anything else makes it refuse, unless ``--force``: then
``events/``, ``experiments/experiments.parquet`` and ``manifest.json`` are replaced and every other
file is still left alone.

New output is written to a staging folder inside ``--out`` and moved into place only when complete,
so a failed run leaves the previous output intact.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from pathlib import Path

from .. import contract

GENERATOR = "readout.simulate"
STAGING = ".readout-simulate.tmp"
EXPERIMENTS_FILE = "experiments.parquet"
EVENT_FILE_PATTERN = "part-*.parquet"
PLACEHOLDER = "_empty.parquet"  #: zero-row file other tools put in an otherwise empty landing folder
IMPORTS_DIR = contract.IMPORTS_DIR
#: Top-level entries that never make the simulator refuse.
TOP_LEVEL_KNOWN = {contract.EVENTS_DIR, contract.EXPERIMENTS_DIR, contract.MANIFEST_FILE, IMPORTS_DIR, STAGING,
                   ".gitkeep", ".DS_Store"}
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
            problems.append(f"{contract.EVENTS_DIR}/ holds event files but there is no {contract.MANIFEST_FILE} "
                            "from readout simulate")
    experiments = out / contract.EXPERIMENTS_DIR
    if experiments.exists() and not experiments.is_dir():
        problems.append(f"{contract.EXPERIMENTS_DIR} is not a folder")
    elif experiments.is_dir():
        odd = sorted(p.name for p in experiments.iterdir() if p.name != EXPERIMENTS_FILE
                     and not any(fnmatch.fnmatch(p.name, pattern) for pattern in EXPERIMENT_CO_TENANTS))
        if odd:
            problems.append(f"{contract.EXPERIMENTS_DIR}/ holds files the simulator did not write "
                            f"({', '.join(odd[:3])})")
        elif (experiments / EXPERIMENTS_FILE).exists() and not ours:
            problems.append(f"{contract.EXPERIMENTS_DIR}/{EXPERIMENTS_FILE} exists but there is no "
                            f"{contract.MANIFEST_FILE} from readout simulate")
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
        raise LandingError(f"--out {out} does not look like a simulator landing zone: {'; '.join(problems)}. "
                           "Choose another folder, or pass --force to replace its events/, "
                           f"experiments/{EXPERIMENTS_FILE} and manifest.json (other files are left alone)")


def start_staging(out: Path) -> Path:
    staging = out / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    (staging / contract.EVENTS_DIR).mkdir(parents=True)
    (staging / contract.EXPERIMENTS_DIR).mkdir(parents=True)
    return staging


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
    shutil.rmtree(staging)


def abandon(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
