//! `cloudformation/ecs-webapp.yml` deployed on moto the way the action deploys it (CreateChangeSet,
//! ExecuteChangeSet), then read back: ECS through the Rust SDK, EC2 and ELBv2 through boto3
//! (`tests/support/template_readback.py`), so no EC2/ELBv2 SDK crate is compiled for a test.
//!
//! What moto cannot show (see ../shared/TESTING.md): it ignores the `Rules` section, creates no
//! Application Auto Scaling resources, and drops the service's network, load balancer and
//! deployment settings. Those are covered by cfn-lint, checkov and `cloudformation/rules/*.guard`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};
use serde_json::Value;

const TEMPLATE: &str = include_str!("../cloudformation/ecs-webapp.yml");
/// CloudFormation's limit for a template passed inline as `TemplateBody`.
const TEMPLATE_BODY_LIMIT: usize = 51_200;
const IMAGE: &str = "docker.io/library/nginx:1.27";

struct Moto {
    url: String,
    cfn: aws_sdk_cloudformation::Client,
    ecs: aws_sdk_ecs::Client,
}

async fn moto() -> Moto {
    let url = common::stand_in("ECS_TEST_MOTO_URL");
    let config = common::moto::sdk_config("us-east-1").await;
    Moto {
        url,
        cfn: aws_sdk_cloudformation::Client::new(&config),
        ecs: aws_sdk_ecs::Client::new(&config),
    }
}

/// A stack name no other test run uses (moto is shared and never reset).
fn unique_stack(tag: &str) -> String {
    common::unique(&format!("tpl-{tag}"))
}

impl Moto {
    /// Creates and executes a change set, like the deploy engine; returns the stack's outputs.
    /// Change-set names are unique too: moto looks change sets up by name across all stacks.
    async fn deploy(
        &self,
        stack: &str,
        kind: ChangeSetType,
        params: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let change_set = common::unique(&format!("{stack}-{}", kind.as_str().to_lowercase()));
        let mut request = self
            .cfn
            .create_change_set()
            .stack_name(stack)
            .change_set_name(&change_set)
            .change_set_type(kind)
            .template_body(TEMPLATE)
            .capabilities(Capability::CapabilityIam);
        for (key, value) in params {
            request = request.parameters(
                Parameter::builder()
                    .parameter_key(*key)
                    .parameter_value(*value)
                    .build(),
            );
        }
        request.send().await.expect("CreateChangeSet");

        for _ in 0..60 {
            let described = self
                .cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(&change_set)
                .send()
                .await
                .expect("DescribeChangeSet");
            match described.status() {
                Some(ChangeSetStatus::CreateComplete) => break,
                Some(ChangeSetStatus::Failed) => {
                    panic!("change set failed: {:?}", described.status_reason())
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        self.cfn
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(&change_set)
            .send()
            .await
            .expect("ExecuteChangeSet");

        for _ in 0..120 {
            let stacks = self
                .cfn
                .describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .expect("DescribeStacks");
            let found = &stacks.stacks()[0];
            let status = found.stack_status().expect("stack status").as_str();
            if status.ends_with("_COMPLETE") && !status.contains("ROLLBACK") {
                return found
                    .outputs()
                    .iter()
                    .map(|o| {
                        (
                            o.output_key().unwrap().to_owned(),
                            o.output_value().unwrap().to_owned(),
                        )
                    })
                    .collect();
            }
            assert!(
                !status.contains("FAILED") && !status.contains("ROLLBACK"),
                "stack {stack}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("stack {stack} did not finish");
    }

    async fn delete(&self, stack: &str) {
        self.cfn
            .delete_stack()
            .stack_name(stack)
            .send()
            .await
            .expect("DeleteStack");
        for _ in 0..120 {
            // Only "does not exist" or DELETE_COMPLETE is gone; a failed read fails the test.
            match common::moto::live_stack(&self.cfn, stack).await {
                Ok(None) => return,
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(e) => panic!("waiting for {stack} to go: {e:#}"),
            }
        }
        panic!("stack {stack} was not deleted");
    }

    /// EC2 and ELBv2 state of the stack, as printed by template_readback.py.
    fn read_back(&self, stack: &str) -> Value {
        let out = self.readback_script(&[stack]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("read-back JSON: {e}\n{out}"))
    }

    fn request_certificate(&self, domain: &str) -> String {
        self.readback_script(&["--request-certificate", domain])
            .trim()
            .to_owned()
    }

    /// A public Route 53 zone on moto for the parent of `domain`; its id.
    fn hosted_zone(&self, domain: &str) -> String {
        self.readback_script(&["--hosted-zone", domain])
            .trim()
            .to_owned()
    }

    /// The stack's own certificate (null without one) and every record of `zone`.
    fn read_back_domain(&self, stack: &str, zone: &str) -> Value {
        let out = self.readback_script(&["--domain", stack, zone]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("read-back JSON: {e}\n{out}"))
    }

    fn readback_script(&self, args: &[&str]) -> String {
        let python = format!("{}/bin/python", common::stand_in("ECS_TEST_VENV"));
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/template_readback.py"
        );
        let out = Command::new(&python)
            .arg(script)
            .arg(&self.url)
            .args(args)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "template_readback.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    async fn service(&self, cluster: &str, service: &str) -> aws_sdk_ecs::types::Service {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .expect("DescribeServices");
        out.services().first().cloned().expect("the service exists")
    }

    async fn task_definition(&self, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .expect("DescribeTaskDefinition");
        out.task_definition().cloned().expect("task definition")
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[tokio::test]
async fn default_stack_deploys_and_reads_back() {
    let moto = moto().await;
    let stack = unique_stack("default");
    let outputs = moto
        .deploy(&stack, ChangeSetType::Create, &[("ImageUri", IMAGE)])
        .await;

    let dns = &outputs["LoadBalancerDnsName"];
    assert_eq!(outputs["ServiceUrl"], format!("http://{dns}"));
    assert_eq!(outputs["ClusterName"], stack);
    assert_eq!(outputs["LogGroupName"], format!("/ecs/{stack}"));

    // ECS: service and the task definition it runs.
    let service = moto
        .service(&outputs["ClusterName"], &outputs["ServiceName"])
        .await;
    assert_eq!(service.desired_count(), 2, "DesiredCount default");
    let task = moto
        .task_definition(service.task_definition().unwrap())
        .await;
    // moto keeps only Family, Memory and ContainerDefinitions of a templated task definition
    // (no Cpu, NetworkMode, RuntimePlatform, roles): those are checked by cfn-lint and cfn-guard.
    assert_eq!(task.family(), Some(stack.as_str()));
    assert_eq!(task.memory(), Some("512"));
    let container = &task.container_definitions()[0];
    assert_eq!(
        container.image(),
        Some(IMAGE),
        "image = the ImageUri passed"
    );
    assert_eq!(container.port_mappings()[0].container_port(), Some(8080));
    let log = container.log_configuration().expect("awslogs");
    assert_eq!(log.log_driver().as_str(), "awslogs");
    assert_eq!(
        log.options().unwrap()["awslogs-group"],
        format!("/ecs/{stack}")
    );
    assert!(
        container.repository_credentials().is_none(),
        "no pull secret unless one is given"
    );

    // EC2 and ELBv2.
    let got = moto.read_back(&stack);
    assert_eq!(s(&got["vpc"]["id"]), outputs["VpcId"]);
    let (a, b) = (
        &got["subnets"]["PublicSubnetA"],
        &got["subnets"]["PublicSubnetB"],
    );
    assert_eq!(
        got["subnets"].as_object().unwrap().len(),
        2,
        "public subnets only by default"
    );
    assert_ne!(a["az"], b["az"], "two different AZs");
    assert!(s(&a["az"]).starts_with("us-east-1") && s(&b["az"]).starts_with("us-east-1"));
    assert_eq!(a["vpc"], got["vpc"]["id"]);

    let lb = &got["load_balancer"];
    assert_eq!(s(&lb["dns_name"]), dns);
    assert_eq!(lb["scheme"], "internet-facing");
    assert_eq!(lb["type"], "application");
    let mut subnets = vec![s(&a["id"]), s(&b["id"])];
    subnets.sort();
    assert_eq!(
        lb["subnets"],
        serde_json::json!(subnets),
        "load balancer in both subnets"
    );
    assert_eq!(
        lb["attributes"]["routing.http.drop_invalid_header_fields.enabled"], "true",
        "LoadBalancerAttributes from the template (moto 5.2.5 ignores them unless moto_server.py applies them)"
    );

    let tg = &got["target_group"];
    assert_eq!(tg["target_type"], "ip");
    assert_eq!(tg["port"], 8080);
    assert_eq!(tg["health_check_path"], "/health");
    assert_eq!(tg["health_check_interval"], 5);
    assert_eq!(tg["healthy_threshold"], 2);
    // A rollout's share set by the template: 2 × 5 s to healthy, then a 5 s drain (README).
    assert_eq!(
        tg["attributes"]["deregistration_delay.timeout_seconds"], "5",
        "TargetGroupAttributes from the template (moto 5.2.5 ignores them unless moto_server.py applies them)"
    );

    let listeners = got["listeners"].as_array().unwrap();
    assert_eq!(
        listeners.len(),
        1,
        "plain HTTP without a certificate: {listeners:?}"
    );
    assert_eq!(listeners[0]["port"], 80);
    assert_eq!(listeners[0]["actions"][0]["type"], "forward");
    assert_eq!(listeners[0]["actions"][0]["target_group"], tg["arn"]);

    let groups = &got["security_groups"];
    let lb_sg = &groups["LoadBalancerSecurityGroup"];
    assert_eq!(lb["security_groups"], serde_json::json!([lb_sg["id"]]));
    let lb_ports: Vec<_> = lb_sg["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from"].clone())
        .collect();
    assert_eq!(
        lb_ports,
        [serde_json::json!(80)],
        "no 443 without a certificate"
    );
    let task_ingress = groups["TaskSecurityGroup"]["ingress"].as_array().unwrap();
    assert_eq!(task_ingress.len(), 1);
    assert_eq!(task_ingress[0]["from"], 8080);
    assert_eq!(
        task_ingress[0]["groups"],
        serde_json::json!([lb_sg["id"]]),
        "tasks admit only the ALB's group"
    );
    assert_eq!(
        task_ingress[0]["cidrs"],
        serde_json::json!([]),
        "no address range reaches the tasks"
    );

    moto.delete(&stack).await;
}

#[tokio::test]
async fn certificate_private_subnets_and_pull_secret() {
    let moto = moto().await;
    let stack = unique_stack("options");
    let certificate = moto.request_certificate("app.example.com");
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-pull-AbCdEf";
    let outputs = moto
        .deploy(
            &stack,
            ChangeSetType::Create,
            &[
                ("ImageUri", IMAGE),
                ("CertificateArn", &certificate),
                ("DomainName", "app.example.com"),
                ("UsePrivateSubnets", "true"),
                ("RepositoryCredentialsSecretArn", secret),
                ("CpuArchitecture", "ARM64"),
                ("Cpu", "512"),
                ("Memory", "1024"),
                ("ContainerPort", "3000"),
            ],
        )
        .await;
    // The certificate's name, not the ALB's (no certificate can cover *.elb.amazonaws.com).
    assert_eq!(outputs["ServiceUrl"], "https://app.example.com");

    let service = moto
        .service(&outputs["ClusterName"], &outputs["ServiceName"])
        .await;
    let task = moto
        .task_definition(service.task_definition().unwrap())
        .await;
    assert_eq!(task.memory(), Some("1024"));
    let container = &task.container_definitions()[0];
    assert_eq!(
        container
            .repository_credentials()
            .map(|c| c.credentials_parameter()),
        Some(secret),
        "the pull secret reaches the container definition"
    );
    assert_eq!(container.port_mappings()[0].container_port(), Some(3000));

    let got = moto.read_back(&stack);
    let subnets = &got["subnets"];
    assert_eq!(subnets.as_object().unwrap().len(), 4);
    assert_ne!(
        subnets["PrivateSubnetA"]["az"],
        subnets["PrivateSubnetB"]["az"]
    );
    let mut nat_subnets: Vec<_> = got["nat_gateways"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| s(&n["subnet"]).to_owned())
        .collect();
    nat_subnets.sort();
    let mut public = vec![
        s(&subnets["PublicSubnetA"]["id"]).to_owned(),
        s(&subnets["PublicSubnetB"]["id"]).to_owned(),
    ];
    public.sort();
    assert_eq!(nat_subnets, public, "one NAT gateway in each public subnet");

    let mut listeners: Vec<_> = got["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["port"].as_i64().unwrap(),
                s(&l["protocol"]).to_owned(),
                s(&l["actions"][0]["type"]).to_owned(),
            )
        })
        .collect();
    listeners.sort();
    assert_eq!(
        listeners,
        [
            (80, "HTTP".into(), "redirect".into()),
            (443, "HTTPS".into(), "forward".into())
        ],
        "HTTP redirects to HTTPS with a certificate"
    );
    // Nothing is served over plain HTTP: the smoke check uses https://DomainName.
    for listener in got["listeners"].as_array().unwrap() {
        assert_eq!(listener["rules"], serde_json::json!([]), "{listener}");
    }
    let https = got["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["port"] == 443)
        .expect("HTTPS listener");
    assert_eq!(https["certificates"], serde_json::json!([certificate]));
    let lb_ports: Vec<_> = got["security_groups"]["LoadBalancerSecurityGroup"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from"].as_i64().unwrap())
        .collect();
    assert!(
        lb_ports.contains(&443) && lb_ports.contains(&80),
        "{lb_ports:?}"
    );
    assert_eq!(
        got["security_groups"]["TaskSecurityGroup"]["ingress"][0]["from"],
        3000
    );

    moto.delete(&stack).await;
}

/// DomainName + HostedZoneId: the stack requests the certificate, validates it in the zone, points
/// the name at the load balancer and serves HTTPS with it; the URL is the name's.
#[tokio::test]
async fn domain_creates_certificate_alias_record_and_https_url() {
    let moto = moto().await;
    let stack = unique_stack("domain");
    let domain = format!("{stack}.example.com");
    let zone = moto.hosted_zone(&domain);
    let outputs = moto
        .deploy(
            &stack,
            ChangeSetType::Create,
            &[
                ("ImageUri", IMAGE),
                ("DomainName", &domain),
                ("HostedZoneId", &zone),
            ],
        )
        .await;
    assert_eq!(outputs["ServiceUrl"], format!("https://{domain}"));

    let dns = moto.read_back_domain(&stack, &zone);
    let cert = &dns["certificate"];
    assert_eq!(s(&cert["domain"]), domain, "{dns}");
    assert_eq!(s(&cert["status"]), "ISSUED", "{dns}");
    let records = dns["records"].as_array().unwrap();
    let validation = &cert["validation"][0];
    assert!(
        records.iter().any(|r| r["type"] == "CNAME"
            && r["name"] == s(&validation["name"]).trim_end_matches('.')
            && r["values"] == serde_json::json!([validation["value"]])),
        "the validation record is in the zone: {dns}"
    );
    let alias: Vec<_> = records
        .iter()
        .filter(|r| r["name"] == domain.as_str())
        .collect();
    assert_eq!(
        alias.len(),
        1,
        "one record for the name (A; no AAAA: IPv4 ALB): {dns}"
    );
    assert_eq!(alias[0]["type"], "A");

    let got = moto.read_back(&stack);
    let lb = &got["load_balancer"];
    assert_eq!(
        alias[0]["alias"],
        serde_json::json!({"dns_name": outputs["LoadBalancerDnsName"], "zone": lb["canonical_zone"]}),
        "the name is an alias of the load balancer"
    );
    assert_eq!(lb["dns_name"], outputs["LoadBalancerDnsName"].as_str());
    let mut listeners: Vec<_> = got["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["port"].as_i64().unwrap(),
                s(&l["actions"][0]["type"]).to_owned(),
                l["certificates"].clone(),
                l["ssl_policy"].clone(),
            )
        })
        .collect();
    listeners.sort_by_key(|l| l.0);
    assert_eq!(
        listeners,
        [
            (80, "redirect".into(), serde_json::json!([]), Value::Null),
            (
                443,
                "forward".into(),
                serde_json::json!([cert["arn"]]),
                serde_json::json!("ELBSecurityPolicy-TLS13-1-2-2021-06")
            )
        ],
        "HTTPS with the stack's certificate, HTTP redirected"
    );

    moto.delete(&stack).await;
    let after = moto.read_back_domain("-", &zone);
    assert!(
        !after["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == domain.as_str()),
        "the alias record goes with the stack: {after}"
    );
    assert!(
        !after["all_certificates"]
            .as_array()
            .unwrap()
            .contains(&cert["arn"]),
        "the certificate goes with the stack: {after}"
    );
}

/// The deploy engine passes the live count as DesiredCount on updates: a new image must leave a
/// scaled-out service at its size (nothing else in the template sets the count).
#[tokio::test]
async fn update_keeps_the_live_desired_count() {
    let moto = moto().await;
    let stack = unique_stack("update");
    let outputs = moto
        .deploy(&stack, ChangeSetType::Create, &[("ImageUri", IMAGE)])
        .await;
    let (cluster, service_name) = (&outputs["ClusterName"], &outputs["ServiceName"]);

    // Auto scaling scaled the service out to 6.
    moto.ecs
        .update_service()
        .cluster(cluster)
        .service(service_name)
        .desired_count(6)
        .send()
        .await
        .expect("UpdateService");

    let live = moto
        .service(cluster, service_name)
        .await
        .desired_count()
        .to_string();
    moto.deploy(
        &stack,
        ChangeSetType::Update,
        &[
            ("ImageUri", "docker.io/library/nginx:1.28"),
            ("DesiredCount", &live),
        ],
    )
    .await;
    assert_eq!(
        moto.service(cluster, service_name).await.desired_count(),
        6,
        "the update kept the live count"
    );

    let stacks = moto
        .cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .unwrap();
    let desired = stacks.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("DesiredCount"))
        .unwrap();
    assert_eq!(desired.parameter_value(), Some("6"));

    moto.delete(&stack).await;
}

/// Conditions are re-evaluated on an update: switching UsePrivateSubnets on adds the private
/// subnets and NAT gateways, switching it off removes them again (moto_server.py judges and
/// executes change sets as CloudFormation does).
#[tokio::test]
async fn private_subnets_follow_the_parameter_across_updates() {
    let moto = moto().await;
    let stack = unique_stack("private");
    moto.deploy(&stack, ChangeSetType::Create, &[("ImageUri", IMAGE)])
        .await;
    let public_only = moto.read_back(&stack);
    assert_eq!(public_only["subnets"].as_object().unwrap().len(), 2);

    moto.deploy(
        &stack,
        ChangeSetType::Update,
        &[("ImageUri", IMAGE), ("UsePrivateSubnets", "true")],
    )
    .await;
    let private = moto.read_back(&stack);
    let mut subnets: Vec<_> = private["subnets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    subnets.sort();
    assert_eq!(
        subnets,
        [
            "PrivateSubnetA",
            "PrivateSubnetB",
            "PublicSubnetA",
            "PublicSubnetB"
        ]
    );
    assert_eq!(private["nat_gateways"].as_array().unwrap().len(), 2);
    assert_eq!(
        private["subnets"]["PublicSubnetA"]["id"], public_only["subnets"]["PublicSubnetA"]["id"],
        "the public subnets are kept, not replaced"
    );

    moto.deploy(
        &stack,
        ChangeSetType::Update,
        &[("ImageUri", IMAGE), ("UsePrivateSubnets", "false")],
    )
    .await;
    let again = moto.read_back(&stack);
    assert_eq!(again["subnets"].as_object().unwrap().len(), 2, "{again}");
    assert_eq!(again["nat_gateways"], serde_json::json!([]));

    moto.delete(&stack).await;
}

/// A running stack gets a domain with an update (the usual way in), keeps its load balancer, and
/// loses the domain's resources again when the inputs go.
#[tokio::test]
async fn a_domain_added_by_an_update_and_removed_again() {
    let moto = moto().await;
    let stack = unique_stack("adddomain");
    let domain = format!("{stack}.example.com");
    let zone = moto.hosted_zone(&domain);
    let plain = moto
        .deploy(&stack, ChangeSetType::Create, &[("ImageUri", IMAGE)])
        .await;
    assert_eq!(
        plain["ServiceUrl"],
        format!("http://{}", plain["LoadBalancerDnsName"])
    );

    let with_domain = moto
        .deploy(
            &stack,
            ChangeSetType::Update,
            &[
                ("ImageUri", IMAGE),
                ("DomainName", &domain),
                ("HostedZoneId", &zone),
            ],
        )
        .await;
    assert_eq!(with_domain["ServiceUrl"], format!("https://{domain}"));
    assert_eq!(
        with_domain["LoadBalancerDnsName"], plain["LoadBalancerDnsName"],
        "the load balancer is kept"
    );
    let dns = moto.read_back_domain(&stack, &zone);
    assert_eq!(s(&dns["certificate"]["status"]), "ISSUED", "{dns}");
    let cert = dns["certificate"]["arn"].clone();
    let has_alias = |d: &Value| {
        d["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == domain.as_str() && r["type"] == "A")
    };
    assert!(has_alias(&dns), "{dns}");
    let ports = |got: &Value| {
        let mut p: Vec<_> = got["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["port"].as_i64().unwrap())
            .collect();
        p.sort();
        p
    };
    assert_eq!(ports(&moto.read_back(&stack)), [80, 443]);

    let without = moto
        .deploy(&stack, ChangeSetType::Update, &[("ImageUri", IMAGE)])
        .await;
    assert_eq!(
        without["ServiceUrl"],
        format!("http://{}", plain["LoadBalancerDnsName"])
    );
    let after = moto.read_back_domain(&stack, &zone);
    assert!(!has_alias(&after), "the alias record is removed: {after}");
    assert!(
        !after["all_certificates"]
            .as_array()
            .unwrap()
            .contains(&cert),
        "the certificate is deleted: {after}"
    );
    assert_eq!(ports(&moto.read_back(&stack)), [80]);

    moto.delete(&stack).await;
}

/// The parameter contract with the action, checked on the template text (no moto needed).
#[test]
fn parameters_are_the_actions_contract() {
    assert!(
        TEMPLATE.len() < TEMPLATE_BODY_LIMIT,
        "template is {} bytes, over TemplateBody's limit",
        TEMPLATE.len()
    );
    let doc: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).expect("YAML");
    let params = doc["Parameters"].as_mapping().expect("Parameters");
    for name in [
        "ImageUri",
        "DesiredCount",
        "MinCapacity",
        "MaxCapacity",
        "TargetCpuUtilization",
        "ContainerPort",
        "HealthCheckPath",
        "Cpu",
        "Memory",
        "CpuArchitecture",
        "CertificateArn",
        "DomainName",
        "HostedZoneId",
        "RepositoryCredentialsSecretArn",
    ] {
        assert!(params.contains_key(name), "parameter {name} missing");
    }
    for (name, spec) in params {
        let name = name.as_str().unwrap();
        assert_eq!(
            spec.get("Default").is_none(),
            name == "ImageUri",
            "{name}: only ImageUri has no default"
        );
        assert!(
            spec.get("ConstraintDescription").is_some(),
            "{name}: no ConstraintDescription"
        );
    }
    let number = |p: &str, k: &str| params[p][k].as_u64().unwrap_or_else(|| panic!("{p}.{k}"));
    assert_eq!(number("DesiredCount", "MinValue"), 1);
    assert!(
        number("DesiredCount", "MaxValue") >= number("MaxCapacity", "MaxValue"),
        "DesiredCount accepts any MaxCapacity"
    );
    assert_eq!(params["ContainerPort"]["Default"].as_u64(), Some(8080));
    assert_eq!(
        params["HealthCheckPath"]["Default"].as_str(),
        Some("/health")
    );
    for output in [
        "ServiceUrl",
        "LoadBalancerDnsName",
        "ClusterName",
        "ServiceName",
        "LogGroupName",
        "VpcId",
    ] {
        assert!(
            doc["Outputs"].get(output).is_some(),
            "output {output} missing"
        );
    }
}
