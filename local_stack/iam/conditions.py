"""IAM condition operators (the ones policies here use; an unknown operator fails loudly instead of passing)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

ContextValue = str | tuple[str, ...]
Context = Mapping[str, ContextValue]


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def match(policy: str, value: str) -> bool:
        try:
            return compare(float(value), float(policy))
        except ValueError:
            return False

    return match


_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda p, v: p == v,
    "stringequalsignorecase": lambda p, v: p.lower() == v.lower(),
    "stringlike": glob_match,
    "arnequals": lambda p, v: p == v,
    "arnlike": glob_match,
    "bool": lambda p, v: p.lower() == v.lower(),
    "numericequals": _numeric(lambda v, p: v == p),
    "numericlessthan": _numeric(lambda v, p: v < p),
    "numericlessthanequals": _numeric(lambda v, p: v <= p),
    "numericgreaterthan": _numeric(lambda v, p: v > p),
    "numericgreaterthanequals": _numeric(lambda v, p: v >= p),
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
    "numericnotequals": "numericequals",
}


def _values(value: ContextValue | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def _block(operator: str, key: str, policy_values: Sequence[str], context: Context) -> bool:
    name = operator.lower()
    if_exists = name.endswith("ifexists")
    name = name.removesuffix("ifexists")
    qualifier, _, name = name.rpartition(":")
    present = key.lower() in context
    found = _values(context.get(key.lower()))
    if name == "null":
        return all((p.lower() == "true") != present for p in policy_values)
    if not present and if_exists:
        return True
    negated = name in _NEGATED
    compare = _POSITIVE.get(_NEGATED.get(name, name))
    if compare is None:
        raise ValueError(f"condition operator {operator} is not modelled by the local stack")
    if qualifier == "forallvalues":
        return all(any(compare(p, v) for p in policy_values) != negated for v in found)
    if qualifier == "foranyvalue":
        return any(any(compare(p, v) for p in policy_values) != negated for v in found)
    if not present:
        return negated  # a missing key satisfies only the negated operators
    matched = any(compare(p, v) for p in policy_values for v in found)
    return not matched if negated else matched


def conditions_hold(conditions: Mapping[str, Mapping[str, Sequence[str]]], context: Context) -> bool:
    """Every operator block and every key in it must hold (AND); values within one key are alternatives (OR)."""
    return all(
        _block(operator, key, values, context) for operator, keys in conditions.items() for key, values in keys.items()
    )
