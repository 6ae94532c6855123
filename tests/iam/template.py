"""Just enough CloudFormation to render the IAM policies of a template for given parameters:
Ref, Fn::Sub, Fn::GetAtt (Arn of roles), Fn::If, AWS::NoValue, condition functions. Anything
else is an error, so a new intrinsic in a policy is noticed instead of rendered wrong."""

from __future__ import annotations

import re

from cfnlint.decode import decode

PARTITION = "aws"
REGION = "ap-southeast-2"
ACCOUNT = "123456789012"
_NOVALUE = object()


def load(path: str) -> dict:
    template, matches = decode(path)
    if matches or template is None:
        raise ValueError(f"{path}: cannot parse: {matches}")
    return template


class Rendered:
    def __init__(self, template: dict, params: dict[str, str], stack_name: str = "deployer"):
        self.t = template
        self.params = {}
        for name, decl in template.get("Parameters", {}).items():
            if name in params:
                self.params[name] = str(params[name])
            elif "Default" in decl:
                self.params[name] = str(decl["Default"])
            else:
                raise ValueError(f"parameter {name} has no value and no default")
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"parameters the template does not declare: {sorted(unknown)}")
        self.stack_name = stack_name
        self.conditions = {n: self._cond(c) for n, c in template.get("Conditions", {}).items()}

    # --- values of resources (what Ref / GetAtt give) ------------------------------------------
    def _ref_resource(self, name: str) -> str:
        res = self.t["Resources"][name]
        kind, props = res["Type"], res.get("Properties", {})
        if kind == "AWS::IAM::ManagedPolicy":
            name = self.value(props.get("ManagedPolicyName", f"{self.stack_name}-{name}-GENERATED"))
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy{self.value(props.get('Path', '/'))}{name}"
        if kind == "AWS::IAM::OIDCProvider":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
        if kind == "AWS::IAM::Role":
            return self.value(props["RoleName"])
        raise ValueError(f"Ref of {kind} not modelled")

    def _getatt(self, name: str, attr: str) -> str:
        res = self.t["Resources"][name]
        if res["Type"] == "AWS::IAM::Role" and attr == "Arn":
            props = res.get("Properties", {})
            path = self.value(props.get("Path", "/"))
            role_name = self.value(props.get("RoleName", f"{self.stack_name}-{name}-GENERATED"))
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role{path}{role_name}"
        raise ValueError(f"GetAtt {name}.{attr} not modelled")

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
        }
        if name == "AWS::NoValue":
            return _NOVALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        return self._ref_resource(name)

    def _sub(self, arg) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def one(m: re.Match) -> str:
            expr = m.group(1)
            if expr in extra:
                return self.value(extra[expr])
            if "." in expr:
                return self._getatt(*expr.split(".", 1))
            return self._ref(expr)

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def _cond(self, c) -> bool:
        if isinstance(c, dict) and len(c) == 1:
            (fn, arg), = c.items()
            if fn == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if fn == "Fn::Not":
                return not self._cond(arg[0])
            if fn == "Fn::And":
                return all(self._cond(x) for x in arg)
            if fn == "Fn::Or":
                return any(self._cond(x) for x in arg)
            if fn == "Condition":
                return self.conditions[arg]
        raise ValueError(f"condition {c!r} not modelled")

    def value(self, v):
        if isinstance(v, dict):
            if len(v) == 1:
                (fn, arg), = v.items()
                if fn == "Ref":
                    return self._ref(arg)
                if fn == "Fn::Sub":
                    return self._sub(arg)
                if fn == "Fn::GetAtt":
                    parts = arg if isinstance(arg, list) else arg.split(".", 1)
                    return self._getatt(*parts)
                if fn == "Fn::If":
                    name, yes, no = arg
                    return self.value(yes if self.conditions[name] else no)
                if fn.startswith("Fn::"):
                    raise ValueError(f"{fn} not modelled")
            out = {}
            for k, x in v.items():
                y = self.value(x)
                if y is not _NOVALUE:
                    out[k] = y
            return out
        if isinstance(v, list):
            return [y for y in (self.value(x) for x in v) if y is not _NOVALUE]
        return v

    def exists(self, name: str) -> bool:
        cond = self.t["Resources"][name].get("Condition")
        return cond is None or self.conditions[cond]

    def role(self, name: str) -> dict:
        """{'arn', 'trust', 'statements', 'boundary'} of one AWS::IAM::Role."""
        props = self.t["Resources"][name]["Properties"]
        statements = []
        for pol in self.value(props.get("Policies", [])):
            statements += pol["PolicyDocument"]["Statement"]
        # Policies of their own attached to the role (AWS::IAM::Policy Roles: [!Ref ROLE]), when
        # their Condition holds.
        for other, res in self.t["Resources"].items():
            if res["Type"] == "AWS::IAM::Policy" and self.exists(other):
                pol = self.value(res["Properties"])
                if self._ref_resource(name) in pol.get("Roles", []):
                    statements += pol["PolicyDocument"]["Statement"]
        return {
            "arn": self._getatt(name, "Arn"),
            "trust": self.value(props["AssumeRolePolicyDocument"])["Statement"],
            "statements": statements,
        }

    def managed_policy(self, name: str) -> list[dict]:
        return self.value(self.t["Resources"][name]["Properties"]["PolicyDocument"])["Statement"]
