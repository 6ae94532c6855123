"""Read back what a deployed ecs-webapp.yml stack created, through the EC2 and ELBv2 APIs.

Usage: template_readback.py MOTO_URL STACK_NAME
       template_readback.py MOTO_URL --request-certificate DOMAIN   (prints a moto ACM certificate ARN)
       template_readback.py MOTO_URL --hosted-zone DOMAIN          (creates the public zone of DOMAIN's
                                                                   parent, prints its id)
       template_readback.py MOTO_URL --domain STACK ZONE_ID         (the stack's certificate, the
                                                                   zone's records and every ACM
                                                                   certificate ARN, as JSON; STACK
                                                                   "-" after the stack is gone)

Prints one JSON document for tests/template_moto.rs to assert on. boto3 is used so the Rust
test does not need to compile aws-sdk-ec2 / aws-sdk-elasticloadbalancingv2 just for a read-back.
"""

import json
import sys

import boto3


def client(service, url):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def main(url, stack):
    cfn, ec2, elb = (client(s, url) for s in ("cloudformation", "ec2", "elbv2"))
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if r.get("LogicalResourceId")  # moto lists resources whose Condition is false as empty entries
    }

    vpc = ec2.describe_vpcs(VpcIds=[physical["Vpc"]])["Vpcs"][0]
    subnet_ids = [v for k, v in physical.items() if k.rstrip("AB") in ("PublicSubnet", "PrivateSubnet")]
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    logical_of = {v: k for k, v in physical.items()}

    groups = ec2.describe_security_groups(
        GroupIds=[physical["LoadBalancerSecurityGroup"], physical["TaskSecurityGroup"]]
    )["SecurityGroups"]

    lb_arn = physical["LoadBalancer"]
    lb = elb.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"][0]
    lb_attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=lb_arn)["Attributes"]
    tg_arn = physical["TargetGroup"]
    tg = elb.describe_target_groups(TargetGroupArns=[tg_arn])["TargetGroups"][0]
    tg_attrs = elb.describe_target_group_attributes(TargetGroupArn=tg_arn)["Attributes"]
    listeners = elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]

    nat_ids = [v for k, v in physical.items() if k.startswith("NatGateway")]
    nats = ec2.describe_nat_gateways(NatGatewayIds=nat_ids)["NatGateways"] if nat_ids else []

    out = {
        "vpc": {"id": vpc["VpcId"], "cidr": vpc["CidrBlock"]},
        "subnets": {
            logical_of[s["SubnetId"]]: {
                "id": s["SubnetId"],
                "az": s["AvailabilityZone"],
                "cidr": s["CidrBlock"],
                "vpc": s["VpcId"],
            }
            for s in subnets
        },
        "security_groups": {
            logical_of[g["GroupId"]]: {
                "id": g["GroupId"],
                "ingress": [
                    {
                        "from": p.get("FromPort"),
                        "to": p.get("ToPort"),
                        "cidrs": [r["CidrIp"] for r in p.get("IpRanges", [])],
                        "groups": [r["GroupId"] for r in p.get("UserIdGroupPairs", [])],
                    }
                    for p in g.get("IpPermissions", [])
                ],
            }
            for g in groups
        },
        "load_balancer": {
            "dns_name": lb["DNSName"],
            "scheme": lb["Scheme"],
            "type": lb["Type"],
            "subnets": sorted(z["SubnetId"] for z in lb["AvailabilityZones"]),
            "zones": sorted(z["ZoneName"] for z in lb["AvailabilityZones"]),
            "security_groups": lb.get("SecurityGroups", []),
            "canonical_zone": lb.get("CanonicalHostedZoneId"),
            "attributes": {a["Key"]: a["Value"] for a in lb_attrs},
        },
        "target_group": {
            "arn": tg_arn,
            "target_type": tg["TargetType"],
            "port": tg["Port"],
            "health_check_path": tg["HealthCheckPath"],
            "health_check_interval": tg["HealthCheckIntervalSeconds"],
            "healthy_threshold": tg["HealthyThresholdCount"],
            "attributes": {a["Key"]: a["Value"] for a in tg_attrs},
        },
        "listeners": [
            {
                "port": l["Port"],
                "protocol": l["Protocol"],
                "ssl_policy": l.get("SslPolicy"),
                "certificates": [c["CertificateArn"] for c in l.get("Certificates", [])],
                "actions": [
                    {"type": a["Type"], "target_group": a.get("TargetGroupArn")}
                    for a in l["DefaultActions"]
                ],
                # rules besides the default one: (path patterns, action types)
                "rules": [
                    {
                        "paths": [v for c in r.get("Conditions", []) for v in
                                  c.get("PathPatternConfig", {}).get("Values", c.get("Values", []))],
                        "actions": [a["Type"] for a in r.get("Actions", [])],
                    }
                    for r in elb.describe_rules(ListenerArn=l["ListenerArn"])["Rules"]
                    if not r.get("IsDefault")
                ],
            }
            for l in listeners
        ],
        "nat_gateways": [{"subnet": n["SubnetId"]} for n in nats],
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


def request_certificate(url, domain):
    """moto's ELBv2 rejects listeners whose certificate ACM does not know."""
    arn = client("acm", url).request_certificate(DomainName=domain)["CertificateArn"]
    print(arn)


def hosted_zone(url, domain):
    """A public zone for the parent of DOMAIN (app.example.com -> example.com)."""
    import uuid

    zone = client("route53", url).create_hosted_zone(
        Name=domain.split(".", 1)[1], CallerReference=uuid.uuid4().hex
    )
    print(zone["HostedZone"]["Id"].rsplit("/", 1)[-1])


def domain(url, stack, zone):
    cfn, acm, route53 = (client(s, url) for s in ("cloudformation", "acm", "route53"))
    physical = {} if stack == "-" else {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        if r.get("LogicalResourceId")
    }
    out = {
        "certificate": None,
        "records": [],
        "all_certificates": [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]],
    }
    if physical.get("Certificate"):
        cert = acm.describe_certificate(CertificateArn=physical["Certificate"])["Certificate"]
        out["certificate"] = {
            "arn": cert["CertificateArn"],
            "domain": cert["DomainName"],
            "status": cert["Status"],
            "validation": [
                {"name": o["ResourceRecord"]["Name"], "type": o["ResourceRecord"]["Type"],
                 "value": o["ResourceRecord"]["Value"], "status": o["ValidationStatus"]}
                for o in cert.get("DomainValidationOptions", [])
            ],
        }
    for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
        alias = r.get("AliasTarget")
        out["records"].append({
            "name": r["Name"].rstrip("."),
            "type": r["Type"],
            "values": [v["Value"] for v in r.get("ResourceRecords", [])],
            "alias": {"dns_name": alias["DNSName"].rstrip("."), "zone": alias["HostedZoneId"]} if alias else None,
        })
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--request-certificate":
        request_certificate(sys.argv[1], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[2] == "--hosted-zone":
        hosted_zone(sys.argv[1], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[2] == "--domain":
        domain(sys.argv[1], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
