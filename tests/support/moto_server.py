#!/usr/bin/env python3
"""moto's server with two fixes that make it behave like CloudFormation for this project's tests.

Run it exactly like `moto_server` (same arguments), from a venv with `moto[server]` 5.x:
    python moto_server.py -H 127.0.0.1 -p 5001

Copied verbatim (apart from this paragraph) from the shared stand-in `../shared/moto/server.py`
so that a clean checkout of this repo is self-contained; scripts/lib/standins.sh starts it.

Fixes, each the documented behaviour of AWS that moto 5.2 lacks:
1. ExecuteChangeSet leaves the stack's Outputs empty; AWS fills them (DescribeStacks shows them
   after a change set creates or updates the stack).
2. DeleteStack fails with DependencyViolation on any stack holding an AWS::EC2::RouteTable,
   because moto cannot delete route tables or their subnet associations through CloudFormation;
   AWS deletes them.
3. (this project's addition) LoadBalancerAttributes / TargetGroupAttributes in a template are
   dropped by moto's CloudFormation models; AWS applies them (deregistration delay, dropping
   invalid header fields), and the template test reads them back.
Everything else is moto as installed. Say so in a note if a fix stops being needed.
"""
import sys

from moto.cloudformation.models import CloudFormationBackend
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.models.subnets import SubnetRouteTableAssociation
from moto.server import main

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

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
