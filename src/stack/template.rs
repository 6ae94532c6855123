//! What the engine needs to know about a template, read with serde_yaml before any AWS call:
//! the parameters it declares (and which have defaults) and its ECS service's logical id.

use anyhow::{Context, Result, bail};
use serde_yaml::Value;

// `Default: 2` and `Default: "2"` both mean "2" to CloudFormation: the one scalar rule.
use crate::pairs::scalar_text;

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamDecl {
    pub name: String,
    /// The template's `Default`, as CloudFormation would pass it (numbers as text). `None`: required.
    pub default: Option<String>,
}

/// The parts of a template the engine looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateInfo {
    /// Declared parameters, in template order.
    pub parameters: Vec<ParamDecl>,
    /// Logical ids of the `AWS::ECS::Service` resources, in template order.
    pub ecs_services: Vec<String>,
}

impl TemplateInfo {
    /// Reads a YAML or JSON template. CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`,
    /// `!If` …) come out as `Value::Tagged` and are simply not looked into.
    pub fn parse(body: &str) -> Result<Self> {
        let doc: Value = serde_yaml::from_str(body).context("parsing the template as YAML/JSON")?;
        let Value::Mapping(top) = doc else {
            bail!("the template is not a YAML/JSON mapping")
        };

        let mut parameters = Vec::new();
        match top.get("Parameters") {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(params)) => {
                for (name, decl) in params {
                    let name = scalar_text(name).context("a parameter name is not a string")?;
                    let default = match decl {
                        Value::Mapping(m) => m.get("Default").and_then(scalar_text),
                        _ => bail!("parameter {name} is not a mapping"),
                    };
                    parameters.push(ParamDecl { name, default });
                }
            }
            Some(_) => bail!("the template's Parameters section is not a mapping"),
        }

        let mut ecs_services = Vec::new();
        if let Some(Value::Mapping(resources)) = top.get("Resources") {
            for (id, res) in resources {
                let ty = res.get("Type").and_then(Value::as_str);
                if ty == Some("AWS::ECS::Service") {
                    ecs_services.extend(scalar_text(id));
                }
            }
        }
        Ok(Self {
            parameters,
            ecs_services,
        })
    }

    pub fn declares(&self, name: &str) -> bool {
        self.parameters.iter().any(|p| p.name == name)
    }

    pub fn param(&self, name: &str) -> Option<&ParamDecl> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameters_and_services_through_short_tags() {
        let t = TemplateInfo::parse(
            r#"
Parameters:
  ImageUri: {Type: String}
  DesiredCount: {Type: Number, Default: 2}
  Flag: {Type: String, Default: "false"}
  Empty: {Type: String, Default: ""}
Conditions:
  HasFlag: !Equals [!Ref Flag, "true"]
Resources:
  Svc:
    Type: AWS::ECS::Service
    Properties:
      DesiredCount: !Ref DesiredCount
      Name: !Sub "${AWS::StackName}-svc"
      Subnets: !If [HasFlag, [!Select [0, !GetAZs ""]], !Ref AWS::NoValue]
      Role: !GetAtt Role.Arn
"#,
        )
        .unwrap();
        let names: Vec<_> = t
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p.default.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("ImageUri", None),
                ("DesiredCount", Some("2")),
                ("Flag", Some("false")),
                ("Empty", Some(""))
            ]
        );
        assert_eq!(t.ecs_services, ["Svc"]);
    }

    #[test]
    fn reads_json_templates_and_the_shipped_one() {
        let t =
            TemplateInfo::parse(r#"{"Parameters": {"A": {"Type": "String"}}, "Resources": {}}"#)
                .unwrap();
        assert!(t.declares("A"));
        let shipped = TemplateInfo::parse(crate::stack::DEFAULT_TEMPLATE).unwrap();
        assert!(shipped.declares("ImageUri") && shipped.declares("DesiredCount"));
        assert_eq!(shipped.ecs_services, ["Service"]);
    }

    #[test]
    fn rejects_what_is_not_a_template() {
        assert!(TemplateInfo::parse("- a\n- b").is_err());
        assert!(TemplateInfo::parse("Parameters: [a]").is_err());
        assert!(TemplateInfo::parse("a: [").is_err());
    }
}
