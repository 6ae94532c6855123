//! The built image's config and manifest, as JSON written in a fixed key order (labels sorted),
//! so the bytes — and so the digests — depend only on the inputs.

use std::collections::BTreeMap;

use anyhow::Result;
use oci_spec::image::{Descriptor, Digest};
use serde_json::json;

use super::BuildSpec;

pub fn config_json(
    spec: &BuildSpec,
    entrypoint: &[String],
    args: &[String],
    diff_id: &Digest,
) -> Result<Vec<u8>> {
    let created = spec.provenance.created_rfc3339()?;
    let mut labels = BTreeMap::new();
    if let Some(url) = &spec.provenance.source_url {
        labels.insert("org.opencontainers.image.source", url.clone());
    }
    if let Some(rev) = &spec.provenance.revision {
        labels.insert("org.opencontainers.image.revision", rev.clone());
    }
    labels.insert("org.opencontainers.image.created", created.clone());

    let mut config = serde_json::Map::new();
    config.insert("Entrypoint".into(), json!(entrypoint));
    if !args.is_empty() {
        config.insert("Cmd".into(), json!(args));
    }
    if !spec.env.is_empty() {
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        config.insert("Env".into(), json!(env));
    }
    if let Some(port) = spec.port {
        config.insert("ExposedPorts".into(), json!({ format!("{port}/tcp"): {} }));
    }
    config.insert("Labels".into(), json!(labels));

    let doc = json!({
        "created": created,
        "architecture": spec.architecture,
        "os": "linux",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created": created, "created_by": "ecs-poc-action build" }],
    });
    Ok(serde_json::to_vec(&doc)?)
}

pub fn manifest_json(config: &Descriptor, layer: &Descriptor) -> Result<Vec<u8>> {
    let desc = |d: &Descriptor| json!({ "mediaType": d.media_type().to_string(), "digest": d.digest().to_string(), "size": d.size() });
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc(config),
        "layers": [desc(layer)],
    });
    Ok(serde_json::to_vec(&doc)?)
}
