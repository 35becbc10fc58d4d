"""The hashed locks are complete and agree with each other, with the direct requirements, with the package's
declared dependencies and with the environment the tests run in (issue 17: reproducible installs).

That installing twice from the lock gives the same environment is checked by scripts/check_lock_reproducible.sh
(two fresh venvs, `pip freeze --all` compared: too slow for `make test`); here, the environment `make install-dev`
made is compared with the lock, package by package, which is what a second install would have to reproduce."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
#: in every venv, not pinned by the lock (pip installs itself); the project's own package is installed --no-deps -e
NOT_LOCKED = {"pip", "readout"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) of every requirement in a lock."""
    entries: dict[str, tuple[str, frozenset[str]]] = {}
    text = (PROJECT / name).read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9._-]+)==([^\s\\;]+)", block)
        if head:
            hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block))
            entries[canonical(head.group(1))] = (head.group(2), hashes)
    return entries


def read_in(name: str) -> dict[str, str]:
    pins = {}
    for line in (PROJECT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            package, version = line.split("==")
            pins[canonical(package.split("[")[0])] = version
    return pins


LOCKS = ("requirements.lock", "requirements-spark.lock", "requirements-dev.lock")


def test_every_requirement_is_pinned_with_hashes():
    for lock in LOCKS:
        entries = read_lock(lock)
        lines = (PROJECT / lock).read_text().splitlines()
        requirement_lines = [line for line in lines if re.match(r"[A-Za-z0-9]", line)]
        assert len(entries) == len(requirement_lines) > 50, f"{lock}: every requirement is an exact pin"
        unhashed = [name for name, (_, hashes) in entries.items() if not hashes]
        assert not unhashed, f"{lock}: no hash for {unhashed}"


def test_runtime_and_spark_locks_are_the_dev_lock_restricted():
    runtime, spark, dev = (read_lock(name) for name in LOCKS)
    for name, lock in (("runtime", runtime), ("spark", spark)):
        differ = {package: (lock[package], dev.get(package)) for package in lock if dev.get(package) != lock[package]}
        assert not differ, f"the {name} lock disagrees with the dev lock (run make lock): {differ}"
    assert set(runtime) < set(spark), "the spark lock holds the runtime lock (requirements-spark.in includes it)"


def test_direct_requirements_are_locked_at_their_pins():
    runtime, spark, dev = (read_lock(name) for name in LOCKS)
    direct = (("requirements.in", runtime), ("requirements-spark.in", spark), ("requirements-dev.in", dev))
    for source, lock in direct + (("requirements.in", spark), ("requirements-spark.in", dev)):
        for name, version in read_in(source).items():
            assert lock.get(name, (None,))[0] == version, f"{source} pins {name}=={version}: run make lock"


def test_package_dependencies_are_declared_and_locked():
    project = tomllib.loads((PROJECT / "python" / "pyproject.toml").read_text())["project"]
    name_of = lambda requirement: canonical(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))  # noqa: E731
    runtime = read_in("requirements.in")
    undeclared = {name_of(r) for r in project["dependencies"]} - set(runtime)
    assert not undeclared, f"package dependencies not in requirements.in: {undeclared}"
    extras = project["optional-dependencies"]
    dev_extras = {name_of(r) for group in ("test", "lint") for r in extras[group]}
    assert dev_extras == set(read_in("requirements-dev.in")), "the test/lint extras and requirements-dev.in differ"
    spark_extra = {name_of(r) for r in extras["spark"]}
    assert spark_extra == set(read_in("requirements-spark.in")), "the spark extra and requirements-spark.in differ"


def test_environment_is_the_dev_lock():
    """The venv the tests run in holds exactly the dev lock (an extra, missing or different package is named)."""
    lock = {name: version for name, (version, _) in read_lock("requirements-dev.lock").items()}
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions(path=sys.path)}
    installed = {name: version for name, version in installed.items() if name not in NOT_LOCKED}
    different = {name: (installed.get(name), locked) for name, locked in lock.items() if installed.get(name) != locked}
    extra = sorted(set(installed) - set(lock))
    assert not different and not extra, (
        f"the environment is not requirements-dev.lock (run make install-dev): installed vs locked {different}; "
        f"not in the lock: {extra}"
    )
