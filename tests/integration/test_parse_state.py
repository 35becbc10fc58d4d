"""dbt's parse state does not hold the landing path or the code version: a build of another landing zone, or of the
same code recorded under another version, reuses target/partial_parse.msgpack instead of parsing the project again
(macros/landing_sources.sql reads READOUT_LANDING_PATH when the hook runs; readout.runtime_env_var). A full parse
costs a build 5-9 s of CPU here; the test suite's builds share one state (e2e.parse_shared)."""

from __future__ import annotations

import subprocess

from e2e import BIN, PROJECT, project_env


def _parse(tmp_path, landing_name: str, code_version: str) -> str:
    env = project_env(tmp_path / landing_name, tmp_path / "warehouse.duckdb") | {
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_LOG_LEVEL_FILE": "debug",  # dbt's default, which e2e.project_env turns off: this test reads the log
        "READOUT_CODE_VERSION": code_version,
        "READOUT_CONTRACT_VERSIONS": code_version,
    }
    log = tmp_path / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    # not e2e.run, which would give the build the test run's shared state: this parse starts from its own
    result = subprocess.run([str(BIN / "dbt"), "parse"], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return log.read_text()


def test_another_landing_zone_or_code_version_reuses_the_parse_state(tmp_path):
    first = _parse(tmp_path, "landing-a", "v1")
    assert "Starting full parse" in first
    second = _parse(tmp_path, "landing-b", "v2")
    assert "Unable to do partial parsing" not in second, second[-2000:]
    assert "Nothing changed, skipping partial parsing" in second
