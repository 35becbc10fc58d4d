"""Run one benchmark step as a child process: wall time, peak resident memory of its whole process
tree (sampled from /proc), the peak of what it spilled to disk (DuckDB's temp folders), and a progress line
while it runs. Linux only (reads /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # the process ended while we looked
            continue
        # the command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parent_pids().items():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def resident_bytes(pid: int) -> int:
    """Resident set size of one process in bytes (0 when it has ended)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def tree_resident_bytes(root: int) -> int:
    """The sum of the resident set sizes of ``root`` and its descendants (pages shared between two
    processes count twice, so this is an upper bound of the tree's real footprint)."""
    return sum(resident_bytes(pid) for pid in process_tree(root))


def folder_disk_bytes(path: Path) -> int:
    """The bytes the files under ``path`` take on disk (allocated blocks, so a sparse file counts what it
    holds); 0 when it does not exist. Files that vanish while it looks are left out."""
    total = 0
    try:
        entries = os.scandir(path)
    except OSError:
        return 0
    with entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    total += folder_disk_bytes(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


class TreeRssSampler:
    """Samples the resident memory of a process tree every ``interval`` seconds on a thread; ``peak``
    is the largest sum seen. A spike shorter than the interval can be missed. With ``spill_dirs`` it also
    samples what those folders hold on disk beyond what they held when it started (``spill_peak``): what
    the step spilled there."""

    def __init__(self, root: int, interval: float = 0.2, spill_dirs: tuple[Path, ...] = ()):
        self.root = root
        self.interval = interval
        self.peak = 0
        self.current = 0
        self.samples = 0
        self.spill_dirs = tuple(spill_dirs)
        self._spill_baseline = sum(folder_disk_bytes(path) for path in self.spill_dirs)
        self.spill_current = 0
        self.spill_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{root}", daemon=True)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                break

    def sample(self) -> int:
        self.current = tree_resident_bytes(self.root)
        self.peak = max(self.peak, self.current)
        if self.spill_dirs:
            spilled = sum(folder_disk_bytes(path) for path in self.spill_dirs) - self._spill_baseline
            self.spill_current = max(0, spilled)
            self.spill_peak = max(self.spill_peak, self.spill_current)
        self.samples += 1
        return self.current

    def start(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class StepResult:
    name: str
    command: list[str]
    seconds: float
    peak_rss_bytes: int
    returncode: int
    log: str
    tail: list[str] = field(default_factory=list)
    stopped_low_memory: bool = False
    peak_spill_bytes: int | None = None  #: None when no spill folder was watched

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def available_bytes() -> int | None:
    """MemAvailable of the machine (None when /proc/meminfo cannot be read)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _stop_group(child: subprocess.Popen) -> None:
    """End the child's whole process group (it was started in a session of its own): TERM, then KILL."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def gib(n_bytes: float | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / 2**30:.2f} GB"


def _last_line(path: Path, limit: int = 4096) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            lines = [line for line in handle.read().decode("utf-8", "replace").replace("\r", "\n").splitlines()
                     if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def run_step(name: str, command: list[str], *, env: dict[str, str], cwd: Path, log: Path,
             interval: float = 0.2, progress_every: float = 30.0, min_available_bytes: int = 2**30,
             spill_dirs: tuple[Path, ...] = (), stream=sys.stderr) -> StepResult:
    """Run ``command`` with its output in ``log``; time it and sample its process tree's memory.

    On a terminal a status line (step, elapsed, memory now, last log line) is redrawn every second;
    otherwise one line is printed every ``progress_every`` seconds. When the machine's available memory
    falls below ``min_available_bytes`` the step is stopped (the machine has no swap: better one failed
    figure than the kernel's OOM killer choosing a process of someone else). ``spill_dirs``: folders the
    step may spill to (DuckDB's temp folders); the peak of what it added to them is reported.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    tty = stream.isatty()
    with open(log, "wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        sampler = TreeRssSampler(child.pid, interval, spill_dirs).start()
        last_report = started
        stopped_low_memory = False
        try:
            while True:
                try:
                    child.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    pass
                free = available_bytes()
                if free is not None and free < min_available_bytes:
                    stopped_low_memory = True
                    stream.write(f"\n  {name}: stopped, the machine has {gib(free)} of memory left\n")
                    _stop_group(child)
                    break
                now = time.perf_counter()
                if tty or now - last_report >= progress_every:
                    last_report = now
                    spilled = f", {gib(sampler.spill_current)} spilled" if sampler.spill_peak else ""
                    status = (f"  {name}: {now - started:6.0f} s, {gib(sampler.current)} now, "
                              f"peak {gib(sampler.peak)}{spilled} | {_last_line(log)}")
                    if tty:
                        width = os.get_terminal_size(stream.fileno()).columns - 1
                        stream.write("\r" + status[:width].ljust(width))
                    else:
                        stream.write(status[:200] + "\n")
                    stream.flush()
        except BaseException:
            _stop_group(child)  # Ctrl-C: do not leave a build running
            raise
        finally:
            seconds = time.perf_counter() - started
            peak = sampler.stop()
            if tty:
                stream.write("\r\033[K")
                stream.flush()
    text = log.read_text(errors="replace").splitlines()
    returncode = child.returncode if child.returncode is not None else -9
    spill_peak = sampler.spill_peak if spill_dirs else None
    return StepResult(name, command, seconds, peak, returncode, str(log), text[-15:], stopped_low_memory, spill_peak)
