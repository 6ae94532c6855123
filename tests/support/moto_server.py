#!/usr/bin/env python3
"""moto's server with fixes that make it behave like CloudFormation for this project's tests.

Run it exactly like `moto_server` (same arguments), from a venv with `moto[server]` 5.x:
    python moto_server.py -H 127.0.0.1 -p 5001

Fixes 1 and 2 are copied from the shared stand-in `../shared/moto/server.py`, so that a clean
checkout of this repo is self-contained; 3-5 are this project's. scripts/lib/standins.sh starts
this file (not the shared one).

Fixes, each the documented behaviour of AWS that moto 5.2 lacks:
1. ExecuteChangeSet leaves the stack's Outputs empty; AWS fills them (DescribeStacks shows them
   after a change set creates or updates the stack).
2. DeleteStack fails with DependencyViolation on any stack holding an AWS::EC2::RouteTable,
   because moto cannot delete route tables or their subnet associations through CloudFormation;
   AWS deletes them.
3. (this project's addition) LoadBalancerAttributes / TargetGroupAttributes in a template are
   dropped by moto's CloudFormation models; AWS applies them (deregistration delay, dropping
   invalid header fields), and the template test reads them back.
4. (this project's addition) Change sets judged the way CloudFormation judges them: Conditions
   evaluated, resources compared by resolved properties with Details and Replacement, parameters
   compared as strings against the stack's *current* values, and the documented empty change set
   when nothing differs. moto_changeset.py holds the judge; the patches below wire it in.
5. (this project's addition) A resource moto cannot update in place (e.g. AWS::Logs::LogGroup) is
   lost from the stack on any Modify; AWS updates it. It is kept.
6. (this project's addition) `!GetAtt LoadBalancer.CanonicalHostedZoneID` raises NotImplementedError
   in moto's ELBv2 model; AWS gives the load balancer's Route 53 zone (what an alias record needs).
   It answers the zone moto's own DescribeLoadBalancers reports.
7. (this project's addition) AWS::CertificateManager::Certificate has no CloudFormation model in
   moto (the resource is skipped, `Ref` gives nothing an HTTPS listener accepts). AWS requests the
   certificate, and with DNS validation and a DomainValidationOptions entry naming a HostedZoneId,
   writes ACM's validation CNAME into that zone and waits until ACM issues the certificate
   ("CloudFormation ... creates the CNAME record ... and waits", AWS::CertificateManager::Certificate
   DomainValidationOption). Here: requested through moto's ACM, the CNAME written through moto's
   Route 53 (an unknown zone fails the resource, as AWS would after validation times out), then
   ISSUED once every name has its record; a name without a zone stays PENDING_VALIDATION and fails
   the resource (AWS: the stack waits until validation times out). Deleting the stack deletes the
   certificate and, like AWS, leaves the CNAME.
8. (this project's addition) An AWS::ElasticLoadBalancingV2::Listener that an update removes (its
   Condition turned false: the HTTPS listener when the domain goes) stays on the load balancer,
   because moto's listener model has no CloudFormation delete; AWS deletes it.
9. (this project's addition) Route 53 hosted zone ids are 22 random characters in moto; AWS's
   always start with `Z` (Z1RWWTK7Y8UDDQ, the shape the action's `hosted-zone-id` input and the
   template's AllowedPattern accept). New ids start with `Z` here.
Everything else is moto as installed. Say so in a note if a fix stops being needed.
test_moto_server.py pins fixes 4-9 against a server started in-process; tests/template_moto.rs
and tests/stack_moto.rs pin 1-3 and 6-8 (outputs, DeleteStack, attributes, certificate and alias
record read back).
"""
import os
import random
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto.cloudformation.parsing as cfn_parsing  # noqa: E402
from botocore import xform_name  # noqa: E402
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack  # noqa: E402
from moto.cloudformation.responses import CloudFormationResponse  # noqa: E402
from moto.ec2.models.route_tables import RouteTable  # noqa: E402
from moto.ec2.models.subnets import SubnetRouteTableAssociation  # noqa: E402
import moto.route53.models as route53_models  # noqa: E402
from moto.elbv2.exceptions import ListenerNotFoundError  # noqa: E402
from moto.server import main  # noqa: E402

import moto_changeset as judge  # noqa: E402

_execute = CloudFormationBackend.execute_change_set


def execute_change_set(self, change_set_name, stack_name=None):
    _execute(self, change_set_name, stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None)
    if change_set is not None:
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()


def delete_route_table(self, account_id, region_name):
    self._associations.clear()
    self.ec2_backend.delete_route_table(self.id)


def delete_association(self, account_id, region_name):
    from moto.ec2.models import ec2_backends
    backend = ec2_backends[account_id][region_name]
    table = backend.route_tables.get(self.route_table_id)
    if table is not None:
        for assoc_id, target in list(table._associations.items()):
            if target == self.subnet_id:
                table._associations.pop(assoc_id)


CloudFormationBackend.execute_change_set = execute_change_set
RouteTable.delete = delete_route_table
SubnetRouteTableAssociation.delete = delete_association


def _with_attributes(model, prop, modify):
    from moto.elbv2.models import elbv2_backends
    create = model.create_from_cloudformation_json.__func__

    def create_with_attributes(cls, name, cfn_json, account_id, region_name, **kw):
        resource = create(cls, name, cfn_json, account_id, region_name, **kw)
        attrs = {a["Key"]: a["Value"] for a in cfn_json.get("Properties", {}).get(prop, [])}
        if attrs:
            getattr(elbv2_backends[account_id][region_name], modify)(resource.arn, attrs)
        return resource

    model.create_from_cloudformation_json = classmethod(create_with_attributes)


from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup  # noqa: E402

_with_attributes(FakeLoadBalancer, "LoadBalancerAttributes", "modify_load_balancer_attributes")
_with_attributes(FakeTargetGroup, "TargetGroupAttributes", "modify_target_group_attributes")

# ------------------------------------------------------------------ 4. change sets judged like AWS

# "The submitted information didn't contain changes. Submit different information to create a
# change set." is the StatusReason AWS gives a FAILED change set that changes nothing (DescribeChangeSet:
# "if your attempt to create a change set failed, CloudFormation shows the error message";
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html).
NO_CHANGES = ("The submitted information didn't contain changes. "
              "Submit different information to create a change set.")


def current_parameters(stack):
    """The stack's parameter values now, as strings (what UsePreviousValue takes). moto keeps the
    values the stack was *created* with in `stack.parameters`, and typed ones (2, not "2") in its
    resource map. AWS: "During a stack update, use the existing parameter value that the stack is
    using for a given parameter key." (API Parameter, UsePreviousValue;
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html)"""
    saved = getattr(stack, "_wire_parameters", None)
    if saved is not None:
        return dict(saved)
    resolved = stack.resource_map.resolved_parameters
    return {k: judge.wire_string(v) for k, v in resolved.items() if v is not None}


def parameter_list(stack):
    hidden = getattr(stack.resource_map, "no_echo_parameter_keys", [])
    return [{"ParameterKey": k, "ParameterValue": "****" if k in hidden else v}
            for k, v in current_parameters(stack).items()]


Stack.stack_parameters = property(current_parameters)
Stack.parameter_list = property(parameter_list)

_stack_update = Stack.update


def stack_update(self, *args, **kwargs):
    _stack_update(self, *args, **kwargs)
    self._wire_parameters = None  # UpdateStack: the resource map holds the values now


Stack.update = stack_update

_validate_different_update = CloudFormationResponse._validate_different_update


def validate_different_update(self, *args, **kwargs):
    # CreateChangeSet with nothing to change is not rejected: AWS creates the change set and
    # fails it with NO_CHANGES ("CloudFormation compares the stack's information with the
    # information that you submit in the change set and lists the differences";
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
    # UpdateStack keeps moto's "No updates are to be performed." error, as AWS answers.
    if self._get_action() == "CreateChangeSet":
        return None
    return _validate_different_update(self, *args, **kwargs)


CloudFormationResponse._validate_different_update = validate_different_update


def _wire_object(value):
    """DescribeChangeSet's serializer reads snake_case attributes, not dict keys."""
    if isinstance(value, dict):
        return SimpleNamespace(**{xform_name(k): _wire_object(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wire_object(v) for v in value]
    return value


def _pseudo_parameters(stack):
    return {
        "AWS::StackName": stack.name,
        "AWS::StackId": stack.stack_id,
        "AWS::Region": stack.region_name,
        "AWS::AccountId": stack.account_id,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }


def _parsed(template):
    return Stack.parse_template(template) if isinstance(template, str) else (template or {})


_create_change_set = CloudFormationBackend.create_change_set


def create_change_set(self, stack_name, change_set_name, template, parameters, description,
                      change_set_type, notification_arns=None, tags=None, role_arn=None):
    change_set_id, stack_id = _create_change_set(
        self, stack_name, change_set_name, template, parameters, description, change_set_type,
        notification_arns=notification_arns, tags=tags, role_arn=role_arn)
    change_set = self.change_sets[change_set_id]
    stack = self.stacks[stack_id]
    pseudo = _pseudo_parameters(stack)
    new_template = change_set.template_dict
    if change_set_type == "UPDATE":
        changes, old, new = judge.diff(_parsed(stack.template), current_parameters(stack),
                                       new_template, parameters, pseudo)
        live = stack.resource_map._parsed_resources
        for change in changes:
            resource = live.get(change["LogicalResourceId"])
            if change["Action"] != "Add" and hasattr(resource, "physical_resource_id"):
                change["PhysicalResourceId"] = resource.physical_resource_id
        tags_changed = bool(tags) and dict(tags) != dict(stack.tags or {})
        unchanged = (not changes and old.outputs == new.outputs and old.params == new.params
                     and not tags_changed)
        if unchanged:
            change_set.status = "FAILED"
            change_set.execution_status = "UNAVAILABLE"
            change_set.status_reason = NO_CHANGES
        else:
            change_set.status = "CREATE_COMPLETE"
            change_set.execution_status = "AVAILABLE"
            change_set.status_reason = None
    else:
        new = judge.resolve_side(new_template, parameters, pseudo)
        changes = [judge.new_change("Add", r, spec["Type"]) for r, spec in new.resources.items()]
    change_set._judged = {
        action: [c["LogicalResourceId"] for c in changes if c["Action"] == action]
        for action in ("Add", "Modify", "Remove")
    }
    change_set._wire_parameters = new.params
    change_set.changes = _wire_object(changes)
    return change_set_id, stack_id


CloudFormationBackend.create_change_set = create_change_set

_apply = ChangeSet.apply


def apply_change_set(self):
    """Executes what the change set listed (moto would re-diff the raw templates): removes the
    resources whose condition turned false, adds those whose condition turned true."""
    judged = getattr(self, "_judged", None)
    if judged is None or self.change_set_type != "UPDATE":
        _apply(self)
    else:
        resources = self.stack.resource_map
        resources.build_resource_diff = lambda *_a, **_k: {k: list(v) for k, v in judged.items()}
        try:
            resources.update(self.template_dict, self.parameters)
        finally:
            del resources.build_resource_diff
        for logical_id in judged["Remove"]:
            resources._parsed_resources.pop(logical_id, None)
    self.stack._wire_parameters = dict(getattr(self, "_wire_parameters", {}) or {}) or None
    if self.tags:
        self.stack.tags = dict(self.tags)


ChangeSet.apply = apply_change_set

# ------------------------------------------------------------------ 5. keep what moto cannot update

_update_resource = cfn_parsing.parse_and_update_resource


def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
    # moto answers None for a type without update support and then stores None as the resource,
    # so a later Ref/GetAtt fails ("GetAtt references undefined resource LogGroup"). AWS updates
    # such a resource in place; keeping the existing one is the closest moto can do.
    updated = _update_resource(logical_id, resource_json, resources_map, account_id, region_name)
    if updated is None:
        return resources_map._parsed_resources.get(logical_id)
    return updated


cfn_parsing.parse_and_update_resource = parse_and_update_resource

# ------------------------------------------------------------------ 6. the load balancer's DNS zone

_lb_attribute = FakeLoadBalancer.get_cfn_attribute


def lb_attribute(self, attribute_name):
    if attribute_name == "CanonicalHostedZoneID":
        return self.canonical_hosted_zone_id
    return _lb_attribute(self, attribute_name)


FakeLoadBalancer.get_cfn_attribute = lb_attribute

# ------------------------------------------------------------------ 7. ACM certificates, DNS-validated

from moto.acm.models import acm_backends  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.route53.models import route53_backends  # noqa: E402


class CertificateError(Exception):
    """A certificate AWS would never issue (the stack fails, as after a validation timeout)."""


class DnsValidatedCertificate(CloudFormationModel):
    # moto's model registry files a model under the second part of its module name (moto.SERVICE.…)
    __module__ = "moto.acm.cloudformation_fix"

    def __init__(self, arn, account_id, region_name):
        self.arn = arn
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self):
        return self.arn

    @staticmethod
    def cloudformation_name_type():
        return ""

    @staticmethod
    def cloudformation_type():
        return "AWS::CertificateManager::Certificate"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name):
        if attribute_name == "Id":
            return self.arn.rsplit("/", 1)[-1]
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        props = cloudformation_json["Properties"]
        acm = acm_backends[account_id][region_name]
        names = [props["DomainName"], *props.get("SubjectAlternativeNames", [])]
        arn = acm.request_certificate(props["DomainName"], None, names[1:], props.get("Tags", []))
        if props.get("ValidationMethod") != "DNS":
            raise CertificateError(f"{props['DomainName']}: only DNS validation is modelled")
        bundle = acm.get_certificate(arn)
        records = {o["DomainName"]: o["ResourceRecord"]
                   for o in bundle.describe()["Certificate"]["DomainValidationOptions"]}
        zones = {o["DomainName"]: o.get("HostedZoneId") for o in props.get("DomainValidationOptions", [])}
        route53 = route53_backends[account_id]["aws"]
        for name in names:
            if not zones.get(name):
                acm.delete_certificate(arn)
                raise CertificateError(f"{name}: no DomainValidationOptions HostedZoneId, so no "
                                       "validation record: ACM would never issue the certificate")
            record = records[name]
            route53.get_hosted_zone(zones[name]).upsert_rrset({
                "Name": record["Name"], "Type": record["Type"], "TTL": 300,
                "ResourceRecords": [record["Value"]]})
        bundle.status = "ISSUED"
        return cls(arn, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        # Every property of AWS's certificate but Tags and CertificateTransparencyLoggingPreference
        # is create-only: a change replaces it.
        new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                  account_id, region_name)
        original_resource.delete(account_id, region_name)
        return new

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name):
        acm_backends[account_id][region_name].delete_certificate(resource_name)

    def delete(self, account_id, region_name):
        self.delete_from_cloudformation_json(self.arn, {}, account_id, region_name)

    def is_created(self):
        return True


# ------------------------------------------------------------------ 8. listeners removed by an update

from moto.elbv2.models import FakeListener, elbv2_backends  # noqa: E402


def delete_listener(self, account_id, region_name):
    # On DeleteStack the load balancer may go first, taking its listeners with it: AWS treats a
    # listener already gone as deleted, so does this.
    try:
        elbv2_backends[account_id][region_name].delete_listener(self.arn)
    except ListenerNotFoundError:
        pass


FakeListener.delete = delete_listener

def route53_zone_id(*_args, **_kwargs):
    return "Z" + "".join(random.choice(route53_models.ROUTE53_ID_CHOICE) for _ in range(21))


route53_models.create_route53_zone_id = route53_zone_id

cfn_parsing.get_model_list.cache_clear()
cfn_parsing.get_model_map.cache_clear()
cfn_parsing.get_name_type_map.cache_clear()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
