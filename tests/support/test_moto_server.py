"""Pins each fix of moto_server.py against a moto server started in-process on loopback.

Run by scripts/test (stage moto-fixes) as
    $ECS_TEST_VENV/bin/python -m unittest discover -s tests/support -p 'test_*.py'
(unittest, so the venv needs nothing more; pytest runs it as well).
"""
import logging
import os
import sys
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import moto_server  # noqa: E402,F401  (applies the fixes)

REPO = Path(__file__).resolve().parents[2]
BUNDLED = (REPO / "cloudformation" / "ecs-webapp.yml").read_text()
IMAGE = "docker.io/library/nginx@sha256:" + "a" * 64
NO_CHANGES = ("The submitted information didn't contain changes. "
              "Submit different information to create a change set.")

SERVER = None
CFN = None
LOGS = None
CLIENTS = {}


def setUpModule():
    global SERVER, CFN, LOGS
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    SERVER = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    SERVER.start()
    host, port = SERVER.get_host_and_port()
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test",
                            region_name="us-east-1")
    url = f"http://{host}:{port}"
    CFN = session.client("cloudformation", endpoint_url=url)
    LOGS = session.client("logs", endpoint_url=url)
    for name in ("acm", "route53", "elbv2"):
        CLIENTS[name] = session.client(name, endpoint_url=url)


def tearDownModule():
    SERVER.stop()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def params(values):
    out = []
    for key, value in values.items():
        if value is None:
            out.append({"ParameterKey": key, "UsePreviousValue": True})
        else:
            out.append({"ParameterKey": key, "ParameterValue": value})
    return out


def change_set(stack, template, values, kind="UPDATE"):
    """CreateChangeSet + DescribeChangeSet (moto answers at once)."""
    name = unique("cs")
    created = CFN.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=kind,
                                    TemplateBody=template, Parameters=params(values),
                                    Capabilities=["CAPABILITY_IAM"])
    return CFN.describe_change_set(ChangeSetName=created["Id"], StackName=created["StackId"])


def execute(described):
    CFN.execute_change_set(ChangeSetName=described["ChangeSetId"], StackName=described["StackId"])


def deploy(stack, template, values):
    described = change_set(stack, template, values, kind="CREATE")
    execute(described)
    return described


def actions(described):
    return [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
            for c in described.get("Changes", [])]


def stack_parameters(stack):
    found = CFN.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters", [])
    return {p["ParameterKey"]: p["ParameterValue"] for p in found}


LOGS_TEMPLATE = """
Parameters:
  Retention: {Type: Number, Default: 30}
  Suffix: {Type: String, Default: one}
  WithExtra: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
Conditions:
  Extra: !Equals [!Ref WithExtra, "true"]
Resources:
  Kept:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/test/${AWS::StackName}/kept-${Suffix}"
      RetentionInDays: !Ref Retention
  Other:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/test/${AWS::StackName}/other"
      RetentionInDays: 7
  Follower:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "${Kept}-follower"
  ExtraGroup:
    Type: AWS::Logs::LogGroup
    Condition: Extra
    Properties:
      LogGroupName: !Sub "/test/${AWS::StackName}/extra"
Outputs:
  KeptName:
    Value: !Ref Kept
"""


def log_groups(stack):
    found = LOGS.describe_log_groups(logGroupNamePrefix=f"/test/{stack}/")["logGroups"]
    return sorted(g["logGroupName"].rsplit("/", 1)[1] for g in found)


class Conditions(unittest.TestCase):
    """Fix 4: Conditions evaluated with the change set's parameters."""

    def test_create_lists_only_resources_whose_condition_holds(self):
        stack = unique("cond-create")
        described = change_set(stack, LOGS_TEMPLATE, {}, kind="CREATE")
        self.assertEqual(actions(described),
                         [("Add", "Kept"), ("Add", "Other"), ("Add", "Follower")])
        with_extra = change_set(unique("cond-create"), LOGS_TEMPLATE, {"WithExtra": "true"},
                                kind="CREATE")
        self.assertIn(("Add", "ExtraGroup"), actions(with_extra))

    def test_a_condition_flipping_adds_then_removes_the_resource(self):
        stack = unique("cond-flip")
        deploy(stack, LOGS_TEMPLATE, {})
        self.assertNotIn("extra", log_groups(stack))

        on = change_set(stack, LOGS_TEMPLATE, {"WithExtra": "true"})
        self.assertEqual(on["Status"], "CREATE_COMPLETE")
        self.assertEqual(actions(on), [("Add", "ExtraGroup")])
        execute(on)
        self.assertIn("extra", log_groups(stack))

        off = change_set(stack, LOGS_TEMPLATE, {"WithExtra": "false"})
        self.assertEqual(actions(off), [("Remove", "ExtraGroup")])
        execute(off)
        self.assertNotIn("extra", log_groups(stack), "executing removes what the set listed")


class ResolvedProperties(unittest.TestCase):
    """Fix 4: resources compared by resolved properties, with Details and Replacement."""

    def test_a_parameter_change_modifies_only_the_resources_using_it(self):
        stack = unique("param")
        deploy(stack, LOGS_TEMPLATE, {})
        described = change_set(stack, LOGS_TEMPLATE, {"Retention": "14"})
        self.assertEqual(actions(described), [("Modify", "Kept")])
        change = described["Changes"][0]["ResourceChange"]
        self.assertEqual(change["Replacement"], "False")
        self.assertEqual(change["Scope"], ["Properties"])
        target = {"Attribute": "Properties", "Name": "RetentionInDays",
                  "RequiresRecreation": "Never"}
        self.assertEqual(change["Details"], [
            {"Target": target, "Evaluation": "Dynamic", "ChangeSource": "DirectModification"},
            {"Target": target, "Evaluation": "Static", "ChangeSource": "ParameterReference",
             "CausingEntity": "Retention"},
        ])
        self.assertTrue(change["PhysicalResourceId"])

    def test_a_create_only_property_replaces_and_references_follow(self):
        stack = unique("replace")
        deploy(stack, LOGS_TEMPLATE, {})
        described = change_set(stack, LOGS_TEMPLATE, {"Suffix": "two"})
        changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
                   for c in described["Changes"]}
        self.assertEqual(sorted(changes), ["Follower", "Kept"])
        self.assertEqual(changes["Kept"]["Replacement"], "True")
        self.assertIn({"Target": {"Attribute": "Properties", "Name": "LogGroupName",
                                  "RequiresRecreation": "Always"},
                       "Evaluation": "Static", "ChangeSource": "ParameterReference",
                       "CausingEntity": "Suffix"}, changes["Kept"]["Details"])
        # Follower's name embeds Kept's: known only once Kept is recreated.
        self.assertEqual(changes["Follower"]["Replacement"], "Conditional")
        self.assertEqual(changes["Follower"]["Details"], [
            {"Target": {"Attribute": "Properties", "Name": "LogGroupName",
                        "RequiresRecreation": "Always"},
             "Evaluation": "Dynamic", "ChangeSource": "ResourceReference",
             "CausingEntity": "Kept"},
        ])

    def test_a_direct_edit_is_a_static_direct_modification(self):
        stack = unique("direct")
        deploy(stack, LOGS_TEMPLATE, {})
        edited = LOGS_TEMPLATE.replace("RetentionInDays: 7", "RetentionInDays: 14")
        described = change_set(stack, edited, {})
        self.assertEqual(actions(described), [("Modify", "Other")])
        self.assertEqual(described["Changes"][0]["ResourceChange"]["Details"], [
            {"Target": {"Attribute": "Properties", "Name": "RetentionInDays",
                        "RequiresRecreation": "Never"},
             "Evaluation": "Static", "ChangeSource": "DirectModification"},
        ])

    def test_a_target_cpu_change_of_the_bundled_template_lists_its_scaling_policy(self):
        stack = unique("bundled")
        deploy(stack, BUNDLED, {"ImageUri": IMAGE})
        described = change_set(stack, BUNDLED, {"ImageUri": None, "TargetCpuUtilization": "50"})
        self.assertEqual(actions(described), [("Modify", "CpuScalingPolicy")])
        details = described["Changes"][0]["ResourceChange"]["Details"]
        self.assertIn("TargetCpuUtilization",
                      [d.get("CausingEntity") for d in details])

    def test_an_image_change_of_the_bundled_template_replaces_the_task_definition(self):
        stack = unique("image")
        deploy(stack, BUNDLED, {"ImageUri": IMAGE})
        described = change_set(stack, BUNDLED, {"ImageUri": IMAGE.replace("a" * 64, "b" * 64)})
        changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
                   for c in described["Changes"]}
        self.assertEqual(sorted(changes), ["Service", "TaskDefinition"])
        self.assertEqual(changes["TaskDefinition"]["Replacement"], "True")
        self.assertEqual(changes["Service"]["Replacement"], "False")
        self.assertEqual([d["ChangeSource"] for d in changes["Service"]["Details"]],
                         ["ResourceReference"])


class ParametersAsStrings(unittest.TestCase):
    """Fix 4: parameters compared as strings; UsePreviousValue takes the current value."""

    def test_use_previous_value_takes_the_current_value_as_a_string(self):
        stack = unique("previous")
        deploy(stack, LOGS_TEMPLATE, {"Retention": "5"})
        updated = change_set(stack, LOGS_TEMPLATE, {"Retention": "7"})
        execute(updated)
        self.assertEqual(stack_parameters(stack)["Retention"], "7")

        again = change_set(stack, LOGS_TEMPLATE, {"Retention": None, "Suffix": None})
        self.assertEqual(again["Status"], "FAILED", actions(again))
        self.assertEqual(again["StatusReason"], NO_CHANGES)
        self.assertEqual(again["ExecutionStatus"], "UNAVAILABLE")

    def test_an_explicit_default_is_no_change(self):
        stack = unique("default")
        deploy(stack, LOGS_TEMPLATE, {})
        described = change_set(stack, LOGS_TEMPLATE, {"Retention": "30", "WithExtra": "false"})
        self.assertEqual(described["Status"], "FAILED", actions(described))


class EmptyChangeSet(unittest.TestCase):
    """Fix 4: an update that changes nothing is the documented FAILED change set."""

    def test_the_bundled_templates_rerun_is_empty(self):
        stack = unique("noop")
        deploy(stack, BUNDLED, {"ImageUri": IMAGE, "DesiredCount": "2"})
        # What the action sends on a rerun: the image, the live count, the rest previous.
        names = [p["ParameterKey"]
                 for p in CFN.get_template_summary(TemplateBody=BUNDLED)["Parameters"]]
        values = {name: None for name in names}
        values.update(ImageUri=IMAGE, DesiredCount="2")
        described = change_set(stack, BUNDLED, values)
        self.assertEqual(described["Status"], "FAILED", actions(described))
        self.assertEqual(described["StatusReason"], NO_CHANGES)
        self.assertEqual(actions(described), [])

    def test_create_change_set_is_not_rejected_when_nothing_changes(self):
        stack = unique("same")
        strings_only = LOGS_TEMPLATE.replace("{Type: Number, Default: 30}",
                                             '{Type: String, Default: "30"}')
        every = {"Retention": "30", "Suffix": "two", "WithExtra": "false"}
        deploy(stack, strings_only, every)
        # Same template text and parameters: moto raised "No updates are to be performed."
        described = change_set(stack, strings_only, every)
        self.assertEqual(described["Status"], "FAILED")
        self.assertEqual(described["StatusReason"], NO_CHANGES)


class KeptOnModify(unittest.TestCase):
    """Fix 5: a resource moto cannot update stays in the stack after a Modify."""

    def test_a_modified_log_group_is_still_referenced(self):
        stack = unique("keep")
        deploy(stack, LOGS_TEMPLATE, {})
        execute(change_set(stack, LOGS_TEMPLATE, {"Retention": "14"}))
        outputs = CFN.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        self.assertEqual([o["OutputValue"] for o in outputs], [f"/test/{stack}/kept-one"])


# A certificate for a name in a zone, the name's alias to a load balancer, and both in outputs.
DOMAIN_TEMPLATE = """
Parameters:
  Domain: {Type: String}
  Zone: {Type: String}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  SubnetA: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: us-east-1a}}
  SubnetB: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1b}}
  LoadBalancer: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: [!Ref SubnetA, !Ref SubnetB]}}
  Certificate:
    Type: AWS::CertificateManager::Certificate
    Properties:
      DomainName: !Ref Domain
      ValidationMethod: DNS
      DomainValidationOptions: [{DomainName: !Ref Domain, HostedZoneId: !Ref Zone}]
  Record:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: !Ref Zone
      Name: !Ref Domain
      Type: A
      AliasTarget: {DNSName: !GetAtt LoadBalancer.DNSName, HostedZoneId: !GetAtt LoadBalancer.CanonicalHostedZoneID}
Outputs:
  CertificateArn: {Value: !Ref Certificate}
  LoadBalancerArn: {Value: !Ref LoadBalancer}
"""


def new_zone(domain):
    zone = CLIENTS["route53"].create_hosted_zone(Name=domain.split(".", 1)[1], CallerReference=unique("ref"))
    return zone["HostedZone"]["Id"].rsplit("/", 1)[-1]


def records(zone):
    return CLIENTS["route53"].list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]


class DomainResources(unittest.TestCase):
    """Fixes 6 and 7: the alias target's zone, and a certificate validated in the named zone."""

    def test_certificate_is_validated_in_the_zone_and_the_alias_names_the_load_balancer(self):
        stack, domain = unique("domain"), f"{unique('app')}.example.com"
        zone = new_zone(domain)
        deploy(stack, DOMAIN_TEMPLATE, {"Domain": domain, "Zone": zone})
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in CFN.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
        cert = CLIENTS["acm"].describe_certificate(CertificateArn=outputs["CertificateArn"])["Certificate"]
        self.assertEqual((cert["DomainName"], cert["Status"]), (domain, "ISSUED"))
        validation = cert["DomainValidationOptions"][0]["ResourceRecord"]
        by_type = {r["Type"]: r for r in records(zone)}
        self.assertEqual(by_type["CNAME"]["Name"], validation["Name"])
        self.assertEqual(by_type["CNAME"]["ResourceRecords"], [{"Value": validation["Value"]}])
        lb = CLIENTS["elbv2"].describe_load_balancers(LoadBalancerArns=[outputs["LoadBalancerArn"]])["LoadBalancers"][0]
        alias = by_type["A"]["AliasTarget"]
        self.assertEqual(alias["DNSName"].rstrip("."), lb["DNSName"])
        self.assertEqual(alias["HostedZoneId"], lb["CanonicalHostedZoneId"])

        CFN.delete_stack(StackName=stack)
        arns = [c["CertificateArn"] for c in CLIENTS["acm"].list_certificates()["CertificateSummaryList"]]
        self.assertNotIn(outputs["CertificateArn"], arns, "the stack's delete deletes its certificate")
        self.assertEqual([r["Type"] for r in records(zone) if r["Type"] == "CNAME"], ["CNAME"],
                         "the validation record stays, as on AWS")

    def test_a_certificate_without_a_zone_for_its_name_fails_the_stack(self):
        stack, domain = unique("nozone"), f"{unique('app')}.example.com"
        template = DOMAIN_TEMPLATE.replace("DomainValidationOptions: [{DomainName: !Ref Domain, HostedZoneId: !Ref Zone}]",
                                           "SubjectAlternativeNames: []")
        with self.assertRaises(Exception):
            deploy(stack, template, {"Domain": domain, "Zone": new_zone(domain)})
        pending = [c for c in CLIENTS["acm"].list_certificates()["CertificateSummaryList"] if c["DomainName"] == domain]
        self.assertEqual(pending, [], "nothing is left behind")


LISTENER_TEMPLATE = """
Parameters:
  Https: {Type: String, Default: "true"}
Conditions:
  WithHttps: !Equals [!Ref Https, "true"]
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  SubnetA: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: us-east-1a}}
  SubnetB: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1b}}
  LoadBalancer: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Subnets: [!Ref SubnetA, !Ref SubnetB]}}
  Plain:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LoadBalancer
      Port: 80
      Protocol: HTTP
      DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
  Second:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Condition: WithHttps
    Properties:
      LoadBalancerArn: !Ref LoadBalancer
      Port: 8080
      Protocol: HTTP
      DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
Outputs:
  LoadBalancerArn: {Value: !Ref LoadBalancer}
"""


class ListenerRemoved(unittest.TestCase):
    """Fix 8: a listener whose condition turns false is deleted from the load balancer."""

    def test_an_update_deletes_the_listener_it_removes(self):
        stack = unique("listener")
        deploy(stack, LISTENER_TEMPLATE, {})
        lb = CFN.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"][0]["OutputValue"]

        def ports():
            return sorted(l["Port"] for l in CLIENTS["elbv2"].describe_listeners(LoadBalancerArn=lb)["Listeners"])

        self.assertEqual(ports(), [80, 8080])
        execute(change_set(stack, LISTENER_TEMPLATE, {"Https": "false"}))
        self.assertEqual(ports(), [80])


class HostedZoneIds(unittest.TestCase):
    """Fix 9: hosted zone ids look like AWS's (Z + upper-case letters and digits)."""

    def test_new_zones_get_z_ids(self):
        for i in range(5):
            zone = new_zone(f"app.zone{i}.example")
            self.assertRegex(zone, r"^Z[A-Z0-9]{21}$")


if __name__ == "__main__":
    unittest.main()
