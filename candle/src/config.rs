//! How to load a local model: the file, the device, threads, context size, cache type.

use std::path::PathBuf;

use anymodel_core::{Error, Result};
use candle_core::Device;

use crate::cpu::cache::CacheKind;

/// Where a local model runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (the default).
    Cpu,
    /// The CUDA GPU of this ordinal (build with the `cuda` feature).
    Cuda(usize),
    /// Apple's GPU (build with the `metal` feature).
    Metal,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;

    /// `cpu`, `cuda`, `cuda:N` or `metal`.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "metal" => Ok(DeviceChoice::Metal),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| {
                    Error::config(format!("device `{other}`: expected cpu, cuda, cuda:N or metal"))
                }),
        }
    }
}

impl DeviceChoice {
    /// The candle device; a GPU this build or machine lacks is a configuration error.
    pub(crate) fn open(&self) -> Result<Device> {
        let device = match self {
            DeviceChoice::Cpu => return Ok(Device::Cpu),
            DeviceChoice::Cuda(ordinal) => Device::new_cuda(*ordinal),
            DeviceChoice::Metal => Device::new_metal(0),
        };
        device.map_err(|err| Error::config(format!("device {self:?} is not available: {err}")))
    }
}

/// How to load a local model.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The GGUF file.
    pub path: PathBuf,
    /// Where to run it. Default: the CPU.
    pub device: DeviceChoice,
    /// CPU threads of this model's own pool; `None` for one per core. anymodel's matrix
    /// products (Q4_1, Q8_0, Q4_K, Q5_K, Q6_K) and attention run on it; candle's kernels for
    /// other quantisation types use a
    /// process-wide pool instead, sized once from the `CANDLE_NUM_THREADS` environment variable
    /// (default: the physical cores).
    pub threads: Option<usize>,
    /// The most tokens of prompt and reply together; default the model's own context length,
    /// capped at 8,192 so that the rotary tables stay small.
    pub context_size: Option<usize>,
    /// A Hugging Face `tokenizer.json` to use instead of the tokenizer in the GGUF metadata
    /// (the special tokens and chat template still come from the GGUF file).
    pub tokenizer_json: Option<PathBuf>,
    /// How the key-value cache holds keys and values (GGUF models). Default: half precision.
    pub kv_cache: CacheKind,
}

/// The largest context a local model is given: past a million positions the rotary tables
/// alone would take gigabytes.
pub const MAX_CONTEXT_SIZE: usize = 1 << 20;

impl LocalConfig {
    /// Whether the settings are ones a model can run with, else a configuration error naming
    /// the setting: a context of 1 to [`MAX_CONTEXT_SIZE`] positions, 1 to 8 threads per core.
    pub fn check(&self) -> Result<()> {
        if let Some(size) = self.context_size.filter(|&n| n == 0 || n > MAX_CONTEXT_SIZE) {
            return Err(Error::config(format!(
                "context_size {size}: expected 1 to {MAX_CONTEXT_SIZE}"
            )));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if let Some(threads) = self.threads.filter(|&n| n == 0 || n > 8 * cores) {
            return Err(Error::config(format!(
                "threads {threads}: expected 1 to {} (this machine has {cores} cores)",
                8 * cores
            )));
        }
        Ok(())
    }

    /// A model from this GGUF file, on the CPU.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalConfig {
            path: path.into(),
            device: DeviceChoice::Cpu,
            threads: None,
            context_size: None,
            tokenizer_json: None,
            kv_cache: CacheKind::Half,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_as_in_config() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(0));
        assert_eq!("cuda:1".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(1));
        assert_eq!("metal".parse::<DeviceChoice>().unwrap(), DeviceChoice::Metal);
        let err = "gpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.to_string().contains("expected cpu, cuda, cuda:N or metal"), "{err}");
    }

    #[test]
    fn a_missing_gpu_is_a_configuration_error() {
        // This build has neither CUDA nor Metal, or this machine no such GPU.
        if let Err(err) = DeviceChoice::Cuda(7).open() {
            assert!(matches!(err, Error::Configuration { .. }), "{err}");
        }
    }

    #[test]
    fn contexts_and_thread_counts_out_of_range_are_refused() {
        let with = |context_size, threads| LocalConfig {
            context_size,
            threads,
            ..LocalConfig::new("m.gguf")
        };
        let error = with(Some(1 << 32), None).check().unwrap_err().to_string();
        assert!(error.contains("context_size 4294967296"), "{error}");
        let error = with(None, Some(100_000)).check().unwrap_err().to_string();
        assert!(error.contains("threads 100000"), "{error}");
        assert!(with(Some(4096), Some(1)).check().is_ok());
    }
}
