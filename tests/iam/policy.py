"""IAM policy evaluation for one identity policy set, the part of AWS's logic these roles use.

Implemented as AWS documents it (IAM User Guide, "Policy evaluation logic" and "Condition
operators"): an explicit Deny wins over any Allow; no Allow means denied. Action and NotAction
match case-insensitively with * and ? wildcards; Resource and NotResource match case-sensitively
(an action without resource-level permissions is requested on "*", which only a "*" pattern
matches). Every condition operator in a statement must hold, every key under an operator must
hold, and a key with several policy values holds when any of them matches. A key absent from the
request fails the condition, except with ...IfExists (then it holds), Null, and the negated
operators (StringNotEquals, StringNotLike, ArnNotLike, ArnNotEquals: they hold when the key is
absent). ForAnyValue: holds when some request value matches (absent: fails); ForAllValues: holds
when every request value matches (absent or empty: holds). Policy variables are not used by these
policies and are refused rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Request:
    action: str  # service:Action
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: dict[str, list[str]] = field(default_factory=dict)  # key (any case) -> values
    label: str = ""  # what this request stands for, for messages

    def value(self, key: str) -> list[str] | None:
        for k, v in self.context.items():
            if k.lower() == key.lower():
                return v
        return None


def _glob(pattern: str, value: str, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    # fnmatch treats [..] as a class; IAM does not.
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, flags=re.S) is not None


def _arn_like(pattern: str, value: str) -> bool:
    # ArnLike compares the six colon-separated parts one by one; the resource part keeps its colons.
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(_glob(a, b, case=True) for a, b in zip(p, v))


def _as_list(x) -> list:
    return x if isinstance(x, list) else [x]


def _bool_str(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


_MATCHERS = {
    "stringequals": lambda p, v: p == v,
    "stringnotequals": lambda p, v: p == v,
    "stringequalsignorecase": lambda p, v: p.lower() == v.lower(),
    "stringnotequalsignorecase": lambda p, v: p.lower() == v.lower(),
    "stringlike": lambda p, v: _glob(p, v, case=True),
    "stringnotlike": lambda p, v: _glob(p, v, case=True),
    "arnequals": _arn_like,  # AWS documents ArnEquals and ArnLike as the same comparison
    "arnlike": _arn_like,
    "arnnotequals": _arn_like,
    "arnnotlike": _arn_like,
    "bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}


def condition_holds(op: str, key: str, policy_values, req: Request) -> bool:
    name = op
    set_op = None
    if ":" in name:
        set_op, name = name.split(":", 1)
        set_op = set_op.lower()
    if_exists = name.lower().endswith("ifexists")
    base = name[: -len("IfExists")] if if_exists else name
    base_l = base.lower()
    pvals = [_bool_str(v) for v in _as_list(policy_values)]
    for p in pvals:
        if "${" in p:
            raise ValueError(f"policy variable in {op} {key}: {p} (not modelled)")
    values = req.value(key)
    if base_l == "null":
        want_absent = pvals[0].lower() == "true"
        return (values is None or values == []) == want_absent
    if base_l not in _MATCHERS:
        raise ValueError(f"condition operator {op} is not modelled")
    match = _MATCHERS[base_l]
    negated = base_l in _NEGATED
    if values is None:
        if set_op == "forallvalues":
            return True
        if set_op == "foranyvalue":
            return False
        return if_exists or negated
    if set_op == "forallvalues":
        hit = all(any(match(p, v) for p in pvals) for v in values)
        return (not hit) if negated else hit
    # ForAnyValue, and a single-valued key (AWS compares each request value too)
    if set_op is None and len(values) > 1:
        raise ValueError(f"multi-valued key {key} used without ForAnyValue/ForAllValues")
    hit = any(match(p, v) for p in pvals for v in values)
    return (not hit) if negated else hit


def statement_applies(st: dict, req: Request) -> bool:
    if "Action" in st:
        if not any(_glob(a, req.action, case=False) for a in _as_list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(_glob(a, req.action, case=False) for a in _as_list(st["NotAction"])):
            return False
    else:
        return False
    # Trust policies name no resource: the role itself is the resource.
    if "Resource" in st:
        if not any(_glob(r, req.resource, case=True) for r in _as_list(st["Resource"])):
            return False
    elif "NotResource" in st:
        if any(_glob(r, req.resource, case=True) for r in _as_list(st["NotResource"])):
            return False
    for op, keys in (st.get("Condition") or {}).items():
        for key, vals in keys.items():
            if not condition_holds(op, key, vals, req):
                return False
    return True


def decide(statements: list[dict], req: Request) -> tuple[bool, str]:
    """(allowed, the Sid that decided or why not)."""
    allow = None
    for st in statements:
        if statement_applies(st, req):
            if st["Effect"] == "Deny":
                return False, f"explicit deny {st.get('Sid', '?')}"
            allow = allow or st.get("Sid", "?")
    return (True, allow) if allow else (False, "no statement allows it")


def self_test() -> int:
    """The evaluator's own cases; a wrong evaluator would make every later answer worthless."""
    allow_tag = {"Effect": "Allow", "Action": "ec2:Create*", "Resource": "arn:aws:ec2:r:1:vpc/*",
                 "Condition": {"StringEquals": {"aws:RequestTag/k": "v"}}}
    deny = {"Effect": "Deny", "Action": "ec2:createvpc", "Resource": "*"}
    like = {"Effect": "Allow", "Action": "s3:Get?bject", "Resource": "*",
            "Condition": {"StringLikeIfExists": {"x": "a*"}, "ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:1:*"}}}
    cases = [
        (decide([allow_tag], Request("EC2:CreateVpc", "arn:aws:ec2:r:1:vpc/vpc-1", {"aws:requesttag/k": ["v"]})), True),
        (decide([allow_tag], Request("ec2:CreateVpc", "arn:aws:ec2:r:1:vpc/vpc-1", {})), False),  # absent key
        (decide([allow_tag], Request("ec2:CreateVpc", "arn:aws:ec2:r:1:VPC/vpc-1", {"aws:RequestTag/k": ["v"]})), False),
        (decide([allow_tag, deny], Request("ec2:CreateVpc", "arn:aws:ec2:r:1:vpc/x", {"aws:RequestTag/k": ["v"]})), False),
        (decide([like], Request("s3:GetObject", "*", {"aws:SourceArn": ["arn:aws:ecs:eu:1:task/x"]})), True),
        (decide([like], Request("s3:GetObject", "*", {"x": ["b"], "aws:SourceArn": ["arn:aws:ecs:eu:1:t"]})), False),
        (decide([like], Request("s3:GetObject", "*", {})), False),  # ArnLike without IfExists, key absent
        (decide([like], Request("s3:GetObjects", "*", {"aws:SourceArn": ["arn:aws:ecs:eu:1:t"]})), False),
        (condition_holds("StringNotEquals", "k", "v", Request("a:b", "*")), True),
        (condition_holds("ForAllValues:StringEquals", "k", ["a", "b"], Request("a:b", "*", {"k": ["a", "c"]})), False),
        (condition_holds("ForAnyValue:StringEquals", "k", ["a"], Request("a:b", "*", {"k": ["c", "a"]})), True),
        (condition_holds("Bool", "aws:SecureTransport", True, Request("a:b", "*", {"aws:SecureTransport": ["true"]})), True),
        (condition_holds("Null", "k", "true", Request("a:b", "*")), True),
    ]
    bad = [i for i, (got, want) in enumerate(cases) if (got[0] if isinstance(got, tuple) else got) != want]
    if bad:
        raise AssertionError(f"IAM evaluator self-test cases failed: {bad}")
    return len(cases)
