//! Reads the legacy `docker save` layout: `manifest.json` naming a config file and one
//! uncompressed `layer.tar` per layer. There is no registry manifest; one is written at push.

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, MediaType};
use serde::Deserialize;

use super::MAX_DOCUMENT_SIZE;
use super::digest;
use super::media::{DOCKER_CONFIG, DOCKER_LAYER, Family};
use super::model::{self, ConfigBlob, ImageParts, Layer, LayerForm};
use super::store::Store;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub fn is_docker_save(store: &Store) -> bool {
    store.contains("manifest.json")
}

pub fn read(store: &Store) -> Result<ImageParts> {
    let raw = store.document("manifest.json")?;
    let entries: Vec<Entry> =
        serde_json::from_slice(&raw).context("manifest.json is not a docker save manifest")?;
    let entry = match entries.as_slice() {
        [one] => one,
        [] => bail!("manifest.json lists no image"),
        many => {
            let tags: Vec<String> = many
                .iter()
                .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
                .collect();
            bail!(
                "the archive holds {} images ({}); save one image per archive",
                many.len(),
                tags.join(", ")
            )
        }
    };

    let config_source = store
        .file(&entry.config)
        .with_context(|| format!("config {}", entry.config))?;
    let config_bytes = config_source
        .read_small(MAX_DOCUMENT_SIZE)
        .with_context(|| format!("config {}", entry.config))?;
    let config_digest = digest::sha256_of(&config_bytes);
    // The config's file name is its digest (`<hex>.json`, or `blobs/sha256/<hex>` in Docker 25+).
    let stem = entry
        .config
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".json");
    if stem.len() == 64
        && stem.bytes().all(|b| b.is_ascii_hexdigit())
        && stem != config_digest.digest()
    {
        bail!("config {} has content digest {config_digest}", entry.config);
    }
    let diff_ids =
        model::diff_ids(&config_bytes).with_context(|| format!("config {}", entry.config))?;
    if diff_ids.len() != entry.layers.len() {
        bail!(
            "manifest.json lists {} layers but the config has {} diff_ids",
            entry.layers.len(),
            diff_ids.len()
        );
    }

    let layers = entry
        .layers
        .iter()
        .zip(&diff_ids)
        .map(|(path, diff_id)| {
            let source = store.file(path).with_context(|| format!("layer {path}"))?;
            let descriptor = Descriptor::new(
                MediaType::Other(DOCKER_LAYER.into()),
                source.len(),
                diff_id.clone(),
            );
            Ok(Layer {
                descriptor,
                source,
                form: LayerForm::Compress,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let descriptor = Descriptor::new(
        MediaType::Other(DOCKER_CONFIG.into()),
        config_bytes.len() as u64,
        config_digest,
    );
    Ok(ImageParts {
        family: Family::Docker,
        manifest: None,
        config: ConfigBlob {
            descriptor,
            bytes: config_bytes,
        },
        layers,
        diff_ids,
        index_descriptor: None,
    })
}
