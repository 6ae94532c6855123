//! The manifests actually pushed. A manifest whose layers are pushed as stored goes byte for byte;
//! one with layers compressed at push time is rewritten with the compressed descriptors (media
//! type, digest, size — every other field kept); a legacy `docker save` gets a manifest written
//! for it; an index pointing at rewritten manifests is rewritten to point at the new ones.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde_json::{Value, json};

use super::media::{self, Compression, DOCKER_MANIFEST, Family};
use super::model::{ImageIndexDoc, ImageParts, Layer, LayerForm, Manifest};

/// The media type an uncompressed layer of `image` takes once compressed. A legacy archive has
/// no manifest of its own: gzip gives Docker schema 2 (what `docker push` writes), zstd an OCI
/// manifest (Docker schema 2 has no zstd layer type).
pub fn target_layer_type(
    image: &ImageParts,
    layer: &Layer,
    compression: Compression,
) -> Result<MediaType> {
    if image.manifest.is_none() && compression == Compression::Zstd {
        return Ok(MediaType::ImageLayerZstd);
    }
    media::compressed_layer_type(layer.descriptor.media_type(), compression)
}

/// The manifest to push for `image`, given the final descriptor of each layer (in order).
pub fn image_manifest(
    image: &ImageParts,
    layers: &[Descriptor],
    compression: Compression,
) -> Result<Manifest> {
    if image.layers.len() != layers.len() {
        bail!(
            "internal: {} layer descriptors for {} layers",
            layers.len(),
            image.layers.len()
        );
    }
    let unchanged = image
        .layers
        .iter()
        .zip(layers)
        .all(|(l, d)| l.form == LayerForm::AsIs && l.descriptor.digest() == d.digest());
    match &image.manifest {
        Some(doc) if unchanged => Ok(doc.clone()),
        Some(doc) => rewrite_layers(doc, layers),
        None => synthesize(image, layers, compression),
    }
}

fn descriptor_json(d: &Descriptor) -> Value {
    json!({ "mediaType": d.media_type().to_string(), "size": d.size(), "digest": d.digest().to_string() })
}

fn rewrite_layers(doc: &Manifest, layers: &[Descriptor]) -> Result<Manifest> {
    let mut value: Value = serde_json::from_slice(&doc.bytes).context("re-reading the manifest")?;
    let Some(entries) = value.get_mut("layers").and_then(Value::as_array_mut) else {
        bail!("manifest {} has no layers array", doc.digest);
    };
    if entries.len() != layers.len() {
        bail!(
            "manifest {} lists {} layers, expected {}",
            doc.digest,
            entries.len(),
            layers.len()
        );
    }
    for (entry, desc) in entries.iter_mut().zip(layers) {
        let Some(obj) = entry.as_object_mut() else {
            bail!("manifest {} has a malformed layer", doc.digest)
        };
        obj.insert("mediaType".into(), json!(desc.media_type().to_string()));
        obj.insert("digest".into(), json!(desc.digest().to_string()));
        obj.insert("size".into(), json!(desc.size()));
    }
    Ok(Manifest::new(
        doc.media_type.clone(),
        Bytes::from(serde_json::to_vec(&value)?),
    ))
}

fn synthesize(
    image: &ImageParts,
    layers: &[Descriptor],
    compression: Compression,
) -> Result<Manifest> {
    let docker = image.family == Family::Docker && compression == Compression::Gzip;
    let (manifest_type, config_type) = if docker {
        (
            MediaType::Other(DOCKER_MANIFEST.into()),
            image.config.descriptor.media_type().clone(),
        )
    } else {
        (MediaType::ImageManifest, MediaType::ImageConfig)
    };
    let config = Descriptor::new(
        config_type,
        image.config.descriptor.size(),
        image.config.descriptor.digest().clone(),
    );
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type.to_string(),
        "config": descriptor_json(&config),
        "layers": layers.iter().map(descriptor_json).collect::<Vec<_>>(),
    });
    Ok(Manifest::new(
        manifest_type,
        Bytes::from(serde_json::to_vec(&doc)?),
    ))
}

/// The index to push once its children are final: entries whose manifest was rewritten point at
/// the new digest and size; an index with no rewritten child goes byte for byte.
pub fn index_manifest(index: &ImageIndexDoc, children: &[(Digest, &Manifest)]) -> Result<Manifest> {
    if children.iter().all(|(old, new)| *old == new.digest) {
        return Ok(index.doc.clone());
    }
    let mut value: Value =
        serde_json::from_slice(&index.doc.bytes).context("re-reading the image index")?;
    let Some(entries) = value.get_mut("manifests").and_then(Value::as_array_mut) else {
        bail!("image index {} has no manifests array", index.doc.digest);
    };
    for entry in entries.iter_mut() {
        let Some(obj) = entry.as_object_mut() else {
            bail!("image index {} has a malformed entry", index.doc.digest)
        };
        let old = obj
            .get("digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some((_, new)) = children.iter().find(|(d, _)| d.as_ref() == old) {
            obj.insert("digest".into(), json!(new.digest.to_string()));
            obj.insert("size".into(), json!(new.bytes.len()));
        }
    }
    Ok(Manifest::new(
        index.doc.media_type.clone(),
        Bytes::from(serde_json::to_vec(&value)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::digest::sha256_of;

    fn digest(s: &str) -> Digest {
        sha256_of(s.as_bytes())
    }

    #[test]
    fn an_index_is_rewritten_only_where_a_child_changed() {
        let (a, b) = (digest("a"), digest("b"));
        let bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": a.to_string(), "size": 1,
                  "platform": { "architecture": "amd64", "os": "linux" } },
                { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": b.to_string(), "size": 1,
                  "platform": { "architecture": "arm64", "os": "linux" } },
            ],
            "annotations": { "keep": "me" },
        }))
        .unwrap();
        let index = ImageIndexDoc {
            doc: Manifest::new(MediaType::ImageIndex, Bytes::from(bytes)),
        };
        let same_b = Manifest {
            media_type: MediaType::ImageManifest,
            bytes: Bytes::from_static(b"x"),
            digest: b.clone(),
        };
        let new_a = Manifest::new(MediaType::ImageManifest, Bytes::from_static(b"{\"new\":1}"));

        let unchanged = index_manifest(
            &index,
            &[
                (
                    a.clone(),
                    &Manifest {
                        digest: a.clone(),
                        ..same_b.clone()
                    },
                ),
                (b.clone(), &same_b),
            ],
        )
        .unwrap();
        assert_eq!(unchanged.bytes, index.doc.bytes);

        let rewritten =
            index_manifest(&index, &[(a.clone(), &new_a), (b.clone(), &same_b)]).unwrap();
        let v: Value = serde_json::from_slice(&rewritten.bytes).unwrap();
        assert_eq!(v["manifests"][0]["digest"], new_a.digest.to_string());
        assert_eq!(v["manifests"][0]["size"], 9);
        assert_eq!(v["manifests"][0]["platform"]["architecture"], "amd64");
        assert_eq!(v["manifests"][1]["digest"], b.to_string());
        assert_eq!(v["annotations"]["keep"], "me");
        assert_eq!(rewritten.digest, sha256_of(&rewritten.bytes));
    }

    #[test]
    fn a_manifest_rewrite_keeps_other_fields() {
        let layer = Descriptor::new(MediaType::ImageLayer, 10, digest("layer"));
        let bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest("c").to_string(), "size": 2 },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.digest().to_string(), "size": 10,
                         "annotations": { "org.example": "kept" } }],
        }))
        .unwrap();
        let doc = Manifest::new(MediaType::ImageManifest, Bytes::from(bytes));
        let compressed = Descriptor::new(MediaType::ImageLayerGzip, 7, digest("gz"));
        let out = rewrite_layers(&doc, std::slice::from_ref(&compressed)).unwrap();
        let v: Value = serde_json::from_slice(&out.bytes).unwrap();
        assert_eq!(
            v["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(v["layers"][0]["digest"], compressed.digest().to_string());
        assert_eq!(v["layers"][0]["size"], 7);
        assert_eq!(v["layers"][0]["annotations"]["org.example"], "kept");
        assert_eq!(v["config"]["digest"], digest("c").to_string());
    }
}
