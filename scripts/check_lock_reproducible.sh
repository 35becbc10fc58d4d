#!/usr/bin/env bash
# Installs a hashed lock (default requirements-dev.lock) into two fresh venvs, exactly as `make install-dev` does,
# and checks that both `pip freeze --all` are identical and hold exactly the lock's pins (plus pip and the local
# package). Not part of `make test` (two full installs: minutes); tests/lint/test_locks.py checks the running
# environment against the lock instead.   usage: scripts/check_lock_reproducible.sh [LOCK] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=${1:-requirements-dev.lock}
WORK=${2:-$(mktemp -d)}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
make --no-print-directory --silent build/tools/bin/uv  # the installer make uses (requirements-tools.lock)
UV=build/tools/bin/uv
for run in a b; do
    start=$SECONDS
    rm -rf "$WORK/$run" && "$PYTHON" -m venv "$WORK/$run"
    "$UV" pip install --quiet --python "$WORK/$run/bin/python" --require-hashes --no-deps -r "$LOCK"
    "$UV" pip install --quiet --python "$WORK/$run/bin/python" --no-deps --no-build-isolation -e python
    "$WORK/$run/bin/python" -m pip check --disable-pip-version-check
    "$WORK/$run/bin/python" -m pip freeze --all --exclude-editable | grep -v '^pip==' | sort -f > "$WORK/$run.freeze"
    echo "install $run: $(wc -l < "$WORK/$run.freeze") packages in $((SECONDS - start)) s"
done
if ! diff "$WORK/a.freeze" "$WORK/b.freeze"; then echo "FAIL: the two installs differ"; exit 1; fi
python3 - "$LOCK" "$WORK/a.freeze" <<'PY'
import re, sys
canon = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = lambda text: {canon(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+?)(?:\s|$)", text, re.M)}
lock, frozen = pins(open(sys.argv[1]).read()), pins(open(sys.argv[2]).read())
if lock != frozen:
    print("FAIL: the installed environment is not the lock:",
          {k: (frozen.get(k), lock.get(k)) for k in set(lock) | set(frozen) if lock.get(k) != frozen.get(k)})
    sys.exit(1)
print(f"OK: two installs from {sys.argv[1]} give the same pip freeze, exactly its {len(lock)} pins")
PY
