"""The Rules of cloudformation/ecs-webapp.yml that moto ignores, evaluated the way CloudFormation
does (a rule whose RuleCondition holds must have every Assert hold, else CreateChangeSet fails),
with the change-set judge's condition evaluator. Run by the moto-fixes stage of scripts/test.
"""
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto.cloudformation.models import Stack  # noqa: E402

import moto_changeset as judge  # noqa: E402

TEMPLATE = Stack.parse_template((Path(__file__).resolve().parents[2] / "cloudformation" / "ecs-webapp.yml").read_text())
DOMAIN_RULES = ("CertificateNeedsDomain", "DomainNeedsCertificate", "ZoneNeedsDomain")
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"


def refused(**given):
    """The domain rules' AssertDescriptions that fail for these parameters."""
    given.setdefault("ImageUri", "docker.io/library/nginx:1.27")
    resolver = judge.Resolver(TEMPLATE, judge.parameter_values(TEMPLATE, given), {})
    out = []
    for name in DOMAIN_RULES:
        rule = TEMPLATE["Rules"][name]
        if "RuleCondition" in rule and not resolver.evaluate(rule["RuleCondition"]):
            continue
        out += [a["AssertDescription"] for a in rule["Assertions"] if not resolver.evaluate(a["Assert"])]
    return out


class DomainRules(unittest.TestCase):
    def test_accepted(self):
        self.assertEqual(refused(), [])
        self.assertEqual(refused(DomainName="app.example.com", HostedZoneId="Z0123456789ABC"), [])
        self.assertEqual(refused(DomainName="app.example.com", CertificateArn=CERT), [])
        self.assertEqual(refused(DomainName="app.example.com", HostedZoneId="Z0123456789ABC", CertificateArn=CERT), [])

    def test_a_certificate_without_the_name_it_covers(self):
        self.assertEqual(refused(CertificateArn=CERT),
                         ["CertificateArn needs DomainName, the name the certificate covers (input domain-name)."])

    def test_a_name_without_a_zone_or_a_certificate(self):
        self.assertEqual(refused(DomainName="app.example.com"),
                         ["DomainName needs HostedZoneId (the stack then creates a DNS-validated certificate) or CertificateArn."])

    def test_a_zone_without_a_name(self):
        self.assertEqual(refused(HostedZoneId="Z0123456789ABC"),
                         ["HostedZoneId needs DomainName, the name to create in that zone (input domain-name)."])


if __name__ == "__main__":
    unittest.main()
