//! Reads an OCI image layout (a directory, an OCI archive, or the layout Docker 25+ writes inside
//! a `docker save` tarball): `oci-layout`, `index.json`, then the manifest or index it points at.

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use super::MAX_DOCUMENT_SIZE;
use super::media::{self, Encoding, ManifestKind};
use super::model::{self, ConfigBlob, ImageIndexDoc, ImageParts, Layer, LayerForm, Manifest};
use super::store::Store;

/// Manifests and configs of one index are held in memory for the push: a hostile index listing
/// thousands of 4 MiB documents stops here. Real multi-platform images hold a few hundred KiB.
const MAX_INDEX_DOCUMENTS: u64 = 32 * 1024 * 1024;

pub fn is_layout(store: &Store) -> bool {
    store.contains("oci-layout") && store.contains("index.json")
}

/// The image the layout's `index.json` names: one image manifest, or one index of them.
pub fn read(store: &Store) -> Result<(Vec<ImageParts>, Option<ImageIndexDoc>)> {
    let layout = store.document("oci-layout")?;
    let layout: serde_json::Value =
        serde_json::from_slice(&layout).context("oci-layout is not valid JSON")?;
    if layout
        .get("imageLayoutVersion")
        .and_then(|v| v.as_str())
        .is_none()
    {
        bail!("oci-layout has no imageLayoutVersion");
    }
    let top = store.document("index.json")?;
    let top = ImageIndex::from_reader(&top[..]).context("index.json is not a valid OCI index")?;
    let root = match top.manifests().as_slice() {
        [one] => one.clone(),
        [] => bail!("index.json lists no image"),
        many => bail!(
            "index.json lists {} images; an archive must hold one image or one multi-platform index",
            many.len()
        ),
    };
    match media::manifest_kind(root.media_type())? {
        ManifestKind::Image(_) => Ok((vec![read_image(store, &root, None)?], None)),
        ManifestKind::Index(_) => read_index(store, &root),
    }
}

fn read_index(
    store: &Store,
    desc: &Descriptor,
) -> Result<(Vec<ImageParts>, Option<ImageIndexDoc>)> {
    let bytes = store.verified_document("image index", desc.digest(), desc.size())?;
    let index = ImageIndex::from_reader(&bytes[..])
        .with_context(|| format!("image index {} is not valid", desc.digest()))?;
    check_declared_type(index.media_type().as_ref(), desc)?;
    if index.manifests().is_empty() {
        bail!("image index {} lists no manifests", desc.digest());
    }
    let mut images = Vec::with_capacity(index.manifests().len().min(64));
    let mut held = bytes.len() as u64;
    for child in index.manifests() {
        match media::manifest_kind(child.media_type())? {
            ManifestKind::Image(_) => {
                let image = read_image(store, child, Some(child.clone())).with_context(|| {
                    format!("image {} of index {}", child.digest(), desc.digest())
                })?;
                held += image.config.bytes.len() as u64
                    + image.manifest.as_ref().map_or(0, |m| m.bytes.len() as u64);
                if held > MAX_INDEX_DOCUMENTS {
                    bail!(
                        "image index {} holds more than {MAX_INDEX_DOCUMENTS} bytes of manifests and configs: not a real multi-platform image",
                        desc.digest()
                    );
                }
                images.push(image);
            }
            ManifestKind::Index(_) => {
                bail!("nested image index {} is not supported", child.digest())
            }
        }
    }
    let doc = Manifest::new(desc.media_type().clone(), bytes);
    Ok((images, Some(ImageIndexDoc { doc })))
}

fn read_image(
    store: &Store,
    desc: &Descriptor,
    index_descriptor: Option<Descriptor>,
) -> Result<ImageParts> {
    let ManifestKind::Image(family) = media::manifest_kind(desc.media_type())? else {
        bail!("{} is not an image manifest", desc.digest());
    };
    let bytes = store.verified_document("manifest", desc.digest(), desc.size())?;
    let manifest = ImageManifest::from_reader(&bytes[..])
        .with_context(|| format!("manifest {} is not valid", desc.digest()))?;
    check_declared_type(manifest.media_type().as_ref(), desc)?;
    let config_desc = manifest.config();
    media::check_config_type(config_desc.media_type())?;
    let config_bytes =
        store.verified_document("config", config_desc.digest(), config_desc.size())?;
    let diff_ids = model::diff_ids(&config_bytes)
        .with_context(|| format!("config {}", config_desc.digest()))?;
    let layers = manifest
        .layers()
        .iter()
        .map(|l| read_layer(store, l))
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("manifest {}", desc.digest()))?;
    model::check_layers(&layers, &diff_ids)
        .with_context(|| format!("manifest {}", desc.digest()))?;
    Ok(ImageParts {
        family,
        manifest: Some(Manifest::new(desc.media_type().clone(), bytes)),
        config: ConfigBlob {
            descriptor: config_desc.clone(),
            bytes: config_bytes,
        },
        layers,
        diff_ids,
        index_descriptor,
    })
}

fn read_layer(store: &Store, desc: &Descriptor) -> Result<Layer> {
    let encoding = media::layer_encoding(desc.media_type())?;
    let source = store.blob(desc.digest())?;
    if source.len() != desc.size() {
        bail!(
            "layer {}: {} bytes stored, its descriptor declares {}",
            desc.digest(),
            source.len(),
            desc.size()
        );
    }
    let form = if encoding == Encoding::Uncompressed {
        LayerForm::Compress
    } else {
        LayerForm::AsIs
    };
    Ok(Layer {
        descriptor: desc.clone(),
        source,
        form,
    })
}

/// A document's own `mediaType`, when present, must agree with the descriptor that led to it.
fn check_declared_type(own: Option<&oci_spec::image::MediaType>, desc: &Descriptor) -> Result<()> {
    match own {
        Some(own) if own != desc.media_type() => bail!(
            "{} declares media type {own} but is referenced as {}",
            desc.digest(),
            desc.media_type()
        ),
        _ => Ok(()),
    }
}

// Keep the document limit visible where documents are read.
const _: () = assert!(MAX_DOCUMENT_SIZE == 4 * 1024 * 1024);
