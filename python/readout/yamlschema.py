"""One way to validate the project's YAML files (contracts, import mappings): pydantic v2 models.

A schema is a :class:`StrictModel` subclass; :func:`format_validation_error` turns a
``pydantic.ValidationError`` into the house message: one line per problem, each naming the field (its
path in the file), the value and the fix; a single problem is a single line.

    contracts/raw_events.yml: expectations[3] (event_id_not_null).level must be one of row, table, got 'column'
    mapping m.yml has 2 problems:
      - outcomes[1].column must be text, got True: YAML reads unquoted yes/no/on/off/true/false as a boolean; ...
      - unknown key 'colour' (allowed: experiment_id, unit_id, ...)

List positions are counted from 1 (the first entry is ``[1]``), as a reader counts the ``-`` items.
A field's own check raises :func:`problem` from a validator (a ``PydanticCustomError`` whose text reads
after the field path, e.g. ``"must be a share between 0 and 1, got 2"``); checks across fields go in
:meth:`StrictModel.check`, which yields located problems (run once every field is valid).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WrapValidator, model_validator
from pydantic_core import PydanticCustomError

BOOLEAN_HINT = "YAML reads unquoted yes/no/on/off/true/false as a boolean; quote it (e.g. 'yes')"
MAX_PROBLEMS_LISTED = 10
#: Error types whose message already reads as a whole sentence after the path (":" not " ").
_STANDALONE = {"missing", "unknown_key", "model_problem"}


def problem(message: str, kind: str = "yaml_problem") -> PydanticCustomError:
    """An error for a custom check; ``message`` reads after the field path ("must be ..., got ...").

    Raise it from a validator; use ``kind="model_problem"`` for a check of a whole mapping (the message
    then follows the mapping's path after a colon)."""
    return PydanticCustomError(kind, message)  # no context: braces in the text stay as they are


class StrictModel(BaseModel):
    """Base of every YAML schema: unknown keys are errors that list the allowed ones; no type coercion
    (``'2'`` is not a number, ``yes`` read as ``True`` is not text); immutable once validated. A key written
    without a value (null) takes its default, or is missing if it has none, unless its type admits null.

    ``label_key``: a key whose text value labels the mapping in messages, e.g. ``outcomes[2] (spend)``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_default=False)
    label_key: ClassVar[str | None] = None

    def check(self) -> Iterable[tuple[tuple, str]]:
        """Cross-field checks, run once every field is valid: ``(path, message)`` pairs, the path relative to
        this mapping (``()``: the mapping itself, the message then reads on its own)."""
        return ()

    @model_validator(mode="wrap")
    @classmethod
    def _name_unknown_keys(cls, data: Any, handler: Any) -> Any:
        allowed = [field.alias or name for name, field in cls.model_fields.items()]
        if not isinstance(data, (dict, cls)):
            raise problem(f"must be a mapping with keys {', '.join(allowed)}, got {_value(data)}")
        odd = [key for key in data if not isinstance(key, str)] if isinstance(data, dict) else []
        if odd:  # a key YAML read as a boolean or number (`on:`, `yes:`, `1:`): pydantic would only say "invalid key"
            data = {key: value for key, value in data.items() if isinstance(key, str)}
        if isinstance(data, dict) and None in data.values():  # `key:` with no value: the default, or missing
            not_null = _not_nullable(cls)
            data = {key: value for key, value in data.items() if value is not None or key not in not_null}
        try:
            result, errors = handler(data), []
        except ValidationError as err:
            result, errors = None, err.errors()
        if result is not None and not odd:
            found = [(tuple(loc), message) for loc, message in result.check()]
            if not found:
                return result
            errors = located(found, cls.__name__).errors()
        label = data.get(cls.label_key) if cls.label_key and isinstance(data, dict) else None
        prefix: tuple = (f"({label})",) if isinstance(label, str) and label else ()
        details = [{"type": problem(_unknown(key, allowed), "unknown_key"), "loc": prefix + (key,)} for key in odd]
        for error in errors:
            loc = tuple(error["loc"])
            labelled = loc and isinstance(loc[0], str) and loc[0].startswith("(")  # by a nested model of this mapping
            details.append(_restated(error, loc if labelled else prefix + loc, allowed))
        raise ValidationError.from_exception_data(cls.__name__, details) from None


def _not_nullable(cls: type[BaseModel]) -> frozenset[str]:
    """The keys of ``cls`` whose type does not admit null (written ``key:`` in YAML, it means the default)."""
    if cls not in _NOT_NULLABLE:
        _NOT_NULLABLE[cls] = frozenset(
            field.alias or name
            for name, field in cls.model_fields.items()
            if field.annotation is not Any and type(None) not in get_args(field.annotation)
        )
    return _NOT_NULLABLE[cls]


_NOT_NULLABLE: dict[type, frozenset[str]] = {}


def _restated(error: dict, loc: tuple, allowed: list[str] | None = None) -> Any:
    """``error`` (one of ``ValidationError.errors()``) in the house words, at ``loc``, ready to raise again."""
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden" and allowed is not None and len(error["loc"]) == 1:
        kind, message = "unknown_key", _unknown(error["loc"][0], allowed)
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error", message))
    elif kind not in _STANDALONE and kind != "yaml_problem":
        message, kind = _describe(error), "yaml_problem"
    return {"type": problem(message, kind), "loc": loc}


def _number_keys(value: Any, handler: Any) -> Any:
    try:
        return handler(value)
    except ValidationError as err:
        details = [
            _restated(e, (str(e["loc"][0]), *e["loc"][1:]) if e["loc"] and isinstance(e["loc"][0], int) else e["loc"])
            for e in err.errors()
        ]
        raise ValidationError.from_exception_data(err.title, details) from None


#: For ``Annotated[dict[int, X], NumberKeys]``: a key is named as written (``versions.2``), not as a list position.
NumberKeys = WrapValidator(_number_keys)


def located(found: Iterable[tuple[tuple, str]], title: str = "problems") -> ValidationError:
    """The problems ``(path, message)`` found by a validator as one error to raise (each at its path, relative
    to the value validated; a message starting with ":" is a sentence about the value at that path)."""
    details = [
        {"type": problem(message, "yaml_problem" if loc or message.startswith(":") else "model_problem"), "loc": loc}
        for loc, message in found
    ]
    return ValidationError.from_exception_data(title, details)


def data_key(key: Any) -> str:
    """A path part for a key of the user's data (a variant, a source value): ``['control']``, not ``.control``."""
    return f"[{key!r}]"


def _unknown(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1) if isinstance(key, str) else []
    hint = f"; {BOOLEAN_HINT}" if isinstance(key, bool) else ""
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r} ({guess}allowed: {', '.join(allowed)}){hint}"


def _value(value: Any) -> str:
    return f"{value!r}: {BOOLEAN_HINT}" if isinstance(value, bool) else repr(value)


def _choices(expected: str) -> str:
    found = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    return ", ".join(found) if found else expected


_WHAT = {
    "string_type": "text",
    "str_type": "text",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
}


def _describe(error: dict) -> str:
    """The house text of one of pydantic's own errors (the part after the field path)."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    texts = ("string_type", "str_type", "literal_error", "enum", "dict_type", "model_type", "list_type")
    got = _value(value) if kind in texts else repr(value)  # the hint to quote only where text would do
    if kind == "missing":
        return "missing"
    if kind in _WHAT:
        return f"must be {_WHAT[kind]}, got {got}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {_choices(str(ctx.get('expected', '')))}, got {got}"
    if kind == "string_pattern_mismatch":
        return f"{got} must match {ctx.get('pattern')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        limit = next(iter(ctx.values()), "")
        return f"must be {sign} {limit}, got {got}"
    if kind in ("too_short", "string_too_short"):
        return (
            f"must not be empty, got {got}"
            if ctx.get("min_length") in (1, None)
            else (f"must have at least {ctx['min_length']} entries, got {got}")
        )
    if kind in ("too_long", "string_too_long"):
        return f"must have at most {ctx.get('max_length')} entries, got {got}"
    if kind == "assertion_error":
        return str(ctx.get("error", error["msg"]))
    message = error["msg"]
    return f"{message[:1].lower()}{message[1:]}, got {got}"


def _path(loc: tuple, first_index: int) -> tuple[str, list[str]]:
    """(path text, hints for keys YAML read as booleans)."""
    text, hints = "", []
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part + first_index}]"
        elif isinstance(part, str) and part.startswith("(") and part.endswith(")"):
            text += f" {part}"
        elif part == "[key]":
            text += " (the key)"
        elif isinstance(part, str) and part.startswith("["):  # a key of the user's data, e.g. split['control']
            text += part
        else:
            if isinstance(part, bool):
                hints.append(f"the key {part!r} is a boolean: {BOOLEAN_HINT}")
            text += f".{part}" if text else str(part)
    return text, hints


def problem_lines(err: ValidationError, *, first_index: int = 1, root: tuple = ()) -> list[str]:
    """One line per problem of ``err``: the field path (under ``root``), then what is wrong and the fix."""
    lines = []
    for error in err.errors():
        loc, kind = root + tuple(error["loc"]), error["type"]
        if kind in ("missing", "unknown_key") and loc:
            parent, hints = _path(loc[:-1], first_index)
            message = f"missing required key {loc[-1]!r}" if kind == "missing" else error["msg"]
            line = f"{parent}: {message}" if parent else message
        else:
            path, hints = _path(loc, first_index)
            message = error["msg"] if kind in ("yaml_problem", *_STANDALONE) else _describe(error)
            if not path:
                line = message
            elif kind in _STANDALONE:
                line = f"{path}: {message}"
            elif message.startswith(":"):  # a check's sentence about the mapping at the path
                line = f"{path}{message}"
            else:
                line = f"{path} {message}"
        lines.append("; ".join([line, *hints]))
    return list(dict.fromkeys(lines))


def format_validation_error(err: ValidationError, *, source: str, first_index: int = 1) -> str:
    """The house message for ``err``: ``"<source>: <problem>"`` for one problem, else
    ``"<source> has N problems:"`` and one ``"  - <problem>"`` line each (at most ten listed)."""
    lines = problem_lines(err, first_index=first_index)
    if len(lines) == 1:
        return f"{source}: {lines[0]}"
    shown = lines[:MAX_PROBLEMS_LISTED]
    more = len(lines) - len(shown)
    body = "\n".join(f"  - {line}" for line in shown)
    return f"{source} has {len(lines)} problems:\n{body}" + (f"\n  ... and {more} more" if more else "")


# ------------------------------------------------------------------------------- reusable field types
def as_text(value: Any) -> Any:
    """``value`` as text (a whole number as its digits); a boolean, an empty text or another type is a problem."""
    if isinstance(value, bool):
        raise problem(f"must be text, got {value!r}: {BOOLEAN_HINT}")
    if isinstance(value, int):
        return str(value)  # a column or variant named 2024 is text
    if not isinstance(value, str):
        raise problem(f"must be text, got {value!r}")
    if not value.strip():
        raise problem("must not be empty")
    return value


def number(what: str, holds: Callable[[Any], bool] = lambda _: True, *, whole: bool = False) -> Any:
    """A number type (a whole number with ``whole``; never a boolean, NaN or infinity) for which ``holds``;
    else the problem reads ``must be <what>, got <value>``. Write ``number(...) | None`` for an optional key."""

    def check(value: Any) -> Any:
        kinds = int if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or not holds(value):
            raise problem(f"must be {what}, got {value!r}")
        return value if whole else float(value)

    return Annotated[int if whole else float, BeforeValidator(check)]


#: Text written in YAML: a non-empty string; a whole number is taken as its digits; a boolean gets the hint.
Text = Annotated[str, BeforeValidator(as_text)]
#: A finite number (int or float), as float.
Number = number("a number")
#: A share between 0 and 1 inclusive, as float.
Share = number("a share between 0 and 1", lambda v: 0 <= v <= 1)


def matching(pattern: str, description: str) -> Any:
    """A text type that must match ``pattern``; ``description`` is the fix, e.g. ``"must be lower_snake_case"``."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        value = as_text(value)
        if isinstance(value, str) and not compiled.match(value):
            raise problem(f"{value!r} {description}")
        return value

    return Annotated[str, BeforeValidator(check)]


# ----------------------------------------------------------------------------------------------- YAML
class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (plain YAML keeps the last silently)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> Any:
    """``text`` as YAML (safe types only, a repeated key is an error); raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """``"not valid YAML at line L, column C: <problem>"`` for a parse error."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    text = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"not valid YAML{where}: {text}"
