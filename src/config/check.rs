//! Checking a parsed file beyond what serde checks: each model entry's options against its
//! backend's, the members fallbacks and routers name, the tools agents name.

use anymodel_backends::providers::{Api, PROVIDERS, provider};
use anymodel_backends::spec::ModelSpec;

use super::{Config, ModelEntry};

/// The backends a model entry may name: `candle`, each provider of the table, `fallback` and
/// `router`.
pub fn backends() -> Vec<&'static str> {
    let providers = PROVIDERS.iter().map(|provider| provider.id);
    std::iter::once("candle").chain(providers).chain(["fallback", "router"]).collect()
}

impl Config {
    pub(super) fn check_model(&self, name: &str, entry: &ModelEntry) -> Result<(), String> {
        let remote = [
            "model",
            "base_url",
            "api_key_env",
            "headers",
            "timeout_secs",
            "deadline_secs",
            "extra",
        ];
        let allowed: Vec<&str> = match entry.backend.as_str() {
            "candle" => vec!["path", "device", "threads", "context_size", "kv_cache"],
            "fallback" => vec!["models"],
            "router" => vec!["models", "spread", "cool_down_secs", "max_in_flight"],
            // OpenAI's wire alone has reasoning models told apart by option.
            id if provider(id).is_some_and(|p| p.api == Api::OpenAi) => {
                remote.into_iter().chain(["reasoning_model"]).collect()
            }
            id if provider(id).is_some() => remote.to_vec(),
            other => {
                return Err(format!(
                    "unknown backend `{other}`; expected one of {}",
                    backends().join(", ")
                ));
            }
        };
        if let Some(option) = entry.set_options().into_iter().find(|o| !allowed.contains(o)) {
            return Err(format!(
                "the {} backend has no option `{option}` (its options: {})",
                entry.backend,
                allowed.join(", ")
            ));
        }
        if let Err(error) = entry.sampling().validate() {
            return Err(match error {
                anymodel_core::Error::InvalidRequest { message, .. } => message,
                other => other.to_string(),
            });
        }
        for (key, value) in
            [("timeout_secs", entry.timeout_secs), ("deadline_secs", entry.deadline_secs)]
        {
            if value == Some(0) {
                return Err(format!("{key} must be at least 1"));
            }
        }
        if entry.api_key_env.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err("`api_key_env` is empty: name the environment variable that holds the key, or leave it out".into());
        }
        let penalties = entry.sampling().penalties_set();
        if let Some(option) = penalties.first()
            && !["candle", "fallback", "router"].contains(&entry.backend.as_str())
        {
            return Err(format!(
                "`{option}` is a sampling option of local models (backend candle); the {} backend does not take it",
                entry.backend
            ));
        }
        let required = match entry.backend.as_str() {
            "candle" => ("path", entry.path.is_some()),
            "fallback" | "router" => {
                ("models", entry.models.as_ref().is_some_and(|m| !m.is_empty()))
            }
            _ => ("model", entry.model.is_some()),
        };
        if !required.1 {
            return Err(format!("the {} backend needs `{}`", entry.backend, required.0));
        }
        if let Some(spread) =
            entry.spread.as_deref().filter(|s| !["round_robin", "least_in_flight"].contains(s))
        {
            return Err(format!(
                "unknown spread `{spread}`; expected round_robin or least_in_flight"
            ));
        }
        if entry.max_in_flight == Some(0) {
            return Err("max_in_flight must be at least 1".into());
        }
        if let Some(models) = &entry.models {
            for other in models {
                if other == name {
                    return Err(format!("a {} cannot name itself", entry.backend));
                }
                if !self.file.models.contains_key(other) && ModelSpec::inline(other).is_none() {
                    return Err(format!("unknown model `{other}` in `models`"));
                }
            }
        }
        Ok(())
    }
}
