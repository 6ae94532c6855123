//! What a push did, for outputs, the step summary and the log.

use std::time::Duration;

use oci_spec::image::{Digest, MediaType};

/// What happened to one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerOutcome {
    /// Uploaded (compressed on the way when the source was uncompressed).
    Pushed,
    /// Already in the repository (HEAD, or the same layers found under the tag already pushed).
    Skipped,
    /// Linked from the `mount_from` repository without uploading.
    Mounted,
}

impl std::fmt::Display for LayerOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pushed => "pushed",
            Self::Skipped => "skipped",
            Self::Mounted => "mounted",
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LayerResult {
    /// The digest as pushed (the compressed digest for a compressed layer).
    pub digest: Digest,
    pub size: u64,
    pub outcome: LayerOutcome,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct PushReport {
    /// The digest of the pushed manifest (or index): what the deploy pins.
    pub digest: Digest,
    /// `host/repo@digest`, host as the user wrote it (`docker.io` for Docker Hub).
    pub reference: String,
    pub media_type: MediaType,
    /// Config plus layers as pushed, of every platform.
    pub total_size: u64,
    pub layers: Vec<LayerResult>,
    /// Blob bytes sent to the registry (retries included).
    pub bytes_uploaded: u64,
    pub duration: Duration,
}

impl PushReport {
    pub fn count(&self, outcome: LayerOutcome) -> usize {
        self.layers.iter().filter(|l| l.outcome == outcome).count()
    }
}

/// `12.3 MB` with decimal units, as registries and Docker print sizes.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// One log line per layer: outcome, size and, for uploads, throughput.
pub fn layer_line(layer: &LayerResult) -> String {
    let short = layer.digest.digest().get(..12).unwrap_or_default();
    match layer.outcome {
        LayerOutcome::Pushed => {
            let rate = if layer.seconds > 0.0 {
                layer.size as f64 / 1e6 / layer.seconds
            } else {
                0.0
            };
            format!(
                "layer {short}: pushed {} in {:.2} s ({rate:.1} MB/s)",
                megabytes(layer.size),
                layer.seconds
            )
        }
        other => format!("layer {short}: {other} ({})", megabytes(layer.size)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn layer_lines_show_outcome_size_and_rate() {
        let digest = Digest::from_str(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let mut l = LayerResult {
            digest,
            size: 50_000_000,
            outcome: LayerOutcome::Pushed,
            seconds: 0.5,
        };
        assert_eq!(
            layer_line(&l),
            "layer abababababab: pushed 50.0 MB in 0.50 s (100.0 MB/s)"
        );
        l.outcome = LayerOutcome::Mounted;
        assert_eq!(layer_line(&l), "layer abababababab: mounted (50.0 MB)");
    }
}
