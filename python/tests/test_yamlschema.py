"""The YAML schemas (readout.yamlschema) report every problem on its own line, naming the file, the key's path,
the value and the fix; an unquoted YAML boolean gets a hint to quote it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import ValidationError

from readout.contracts.load import ContractError, load_contract
from readout.yamlschema import BOOLEAN_HINT, StrictModel, Text, format_validation_error, parse_yaml

REPO = Path(__file__).resolve().parents[2]


class Item(StrictModel):
    label_key = "name"
    name: Text
    kind: Literal["a", "b"] = "a"


class Document(StrictModel):
    title: Text
    items: list[Item] = []

    def check(self):
        if len({item.name for item in self.items}) < len(self.items):
            yield ("items",), ": a name is used twice"


def _message(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        Document.model_validate(data)
    return format_validation_error(info.value, source="doc.yml")


def test_each_problem_is_one_line_naming_the_path_the_value_and_the_fix():
    message = _message({"title": True, "items": [{"name": "x", "kind": "c", "knd": 1}, {}], "colour": 1})
    assert message.splitlines() == [
        "doc.yml has 5 problems:",
        f"  - title must be text, got True: {BOOLEAN_HINT}",
        "  - items[1] (x).kind must be one of a, b, got 'c'",
        "  - items[1] (x): unknown key 'knd' (did you mean 'kind'? allowed: name, kind)",
        "  - items[2]: missing required key 'name'",
        "  - unknown key 'colour' (allowed: title, items)",
    ]


def test_one_problem_is_one_line_and_checks_across_keys_run_once_the_fields_are_valid():
    assert _message({"title": "t", "items": [{"name": "x"}, {"name": "x"}]}) == "doc.yml: items: a name is used twice"


def test_a_key_yaml_read_as_a_boolean_gets_the_hint():
    message = _message(parse_yaml("title: t\non: 1\n"))
    assert message == f"doc.yml: unknown key True (allowed: title, items); {BOOLEAN_HINT}"


def _contract(tmp_path: Path, old: str, new: str) -> str:
    text = (REPO / "contracts" / "raw_events.yml").read_text()
    assert old in text
    path = tmp_path / "raw_events.yml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ContractError) as info:
        load_contract(path)
    return str(info.value)


def test_a_contract_with_an_unquoted_boolean_and_an_unknown_key_lists_both(tmp_path):
    message = _contract(tmp_path, "team: data-platform", "team: yes\n  colour: red")
    assert message.splitlines()[0] == "raw_events.yml has 2 problems:"
    assert f"  - owner.team must be text, got True: {BOOLEAN_HINT}" in message
    assert "  - owner: unknown key 'colour' (allowed: team, contact, producers, escalation)" in message


def test_a_contract_rule_problem_names_the_rule_and_its_position(tmp_path):
    message = _contract(tmp_path, "    quarantine_reason: missing_event_id", "    error_above: 5")
    assert (
        message
        == "raw_events.yml: expectations[1] (event_id_present).error_above must be a share between 0 and 1, got 5"
    )


def test_a_key_written_twice_in_a_contract_is_refused(tmp_path):
    message = _contract(tmp_path, "materiality:\n", "materiality:\n  error_above: 0.05\n")
    assert message.startswith("raw_events.yml: not valid YAML at line ")
    assert "key 'error_above' appears twice" in message


def test_a_mapping_lists_each_unquoted_boolean_with_its_path(tmp_path):
    from readout.cli import UsageError
    from readout.importer.mapping import load_mapping

    text = (REPO / "mappings" / "cookie_cats.yml").read_text()
    path = tmp_path / "m.yml"
    path.write_text(text.replace("control: gate_30", "control: yes").replace("column: retention_7", "column: on"))
    with pytest.raises(UsageError) as info:
        load_mapping(path)
    assert str(info.value).splitlines() == [
        f"mapping {path} has 2 problems:",
        f"  - control must be text, got True: {BOOLEAN_HINT}",
        f"  - outcomes[2] (retention_7).column must be text, got True: {BOOLEAN_HINT}",
    ]
