//! The remote providers anymodel knows by name: one row each, read by the inline names
//! (`groq:MODEL`), the config file (`backend = "groq"`), help texts and error messages. A
//! provider that speaks a wire anymodel has (most speak OpenAI's) is one row here.

/// A remote wire format: how requests and replies are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI's Chat Completions (OpenAI, Ollama, vLLM, llama-server, ...).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API.
    Gemini,
    /// Cohere's Chat API v2.
    Cohere,
}

impl Api {
    /// The cargo feature that builds this wire (of `anymodel-backends`, and of the facade).
    pub fn feature(self) -> &'static str {
        self.home().id
    }

    /// The provider whose own API this wire is (the first row that speaks it).
    pub fn home(self) -> &'static Provider {
        match self {
            Api::OpenAi => &OPENAI,
            Api::Anthropic => &ANTHROPIC,
            Api::Gemini => &GEMINI,
            Api::Cohere => &COHERE,
        }
    }
}

/// One provider: its id (the inline prefix and the config's `backend`), its wire, where it is
/// and where its key is read from.
#[derive(Debug, PartialEq, Eq)]
pub struct Provider {
    /// The name in `ID:MODEL` and `backend = "ID"`.
    pub id: &'static str,
    /// The wire format it speaks.
    pub api: Api,
    /// Its API root, as its own SDK takes it (`ANTHROPIC_BASE_URL` has no `/v1`, OpenAI's has).
    pub base_url: &'static str,
    /// The environment variable its SDKs read the key from; `None` for a server on one's own
    /// machine that needs none.
    pub key_env: Option<&'static str>,
    /// How the names of its reasoning models start: models that take `max_completion_tokens`
    /// and no sampling temperature (a config entry's `reasoning_model` overrides).
    pub reasoning_models: &'static [&'static str],
    /// Its embedding models with the size of their vectors by default, so that an inline name
    /// (`openai:text-embedding-3-small`) needs no configuration.
    pub embedding_models: &'static [(&'static str, usize)],
    /// Its name in OpenTelemetry's GenAI conventions (`gen_ai.provider.name`): the
    /// conventions' own where they list it (`gcp.gemini`, `mistral_ai`), else its id.
    pub otel_name: &'static str,
}

impl Provider {
    /// Whether `model` is one of this provider's reasoning models, by its name (after any
    /// `openai/` of a router that serves OpenAI's models under it).
    pub fn is_reasoning_model(&self, model: &str) -> bool {
        let model = model.strip_prefix("openai/").unwrap_or(model);
        self.reasoning_models.iter().any(|prefix| {
            model.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
    }

    /// The default vector size of the embedding model `model`, when the table knows it.
    pub fn embedding_dimensions(&self, model: &str) -> Option<usize> {
        self.embedding_models.iter().find(|(name, _)| *name == model).map(|(_, size)| *size)
    }
}

const fn row(
    id: &'static str,
    api: Api,
    base_url: &'static str,
    key_env: Option<&'static str>,
) -> Provider {
    Provider {
        id,
        api,
        base_url,
        key_env,
        reasoning_models: &[],
        embedding_models: &[],
        otel_name: id,
    }
}

/// OpenAI's own API.
pub const OPENAI: Provider = Provider {
    reasoning_models: &["o1", "o3", "o4-mini", "gpt-5", "gpt-5.1", "gpt-5.2"],
    embedding_models: &[
        ("text-embedding-3-small", 1536),
        ("text-embedding-3-large", 3072),
        ("text-embedding-ada-002", 1536),
    ],
    ..row("openai", Api::OpenAi, "https://api.openai.com/v1", Some("OPENAI_API_KEY"))
};
/// Anthropic's own API.
pub const ANTHROPIC: Provider =
    row("anthropic", Api::Anthropic, "https://api.anthropic.com", Some("ANTHROPIC_API_KEY"));
/// Google's Gemini API.
pub const GEMINI: Provider = Provider {
    embedding_models: &[("gemini-embedding-001", 3072), ("text-embedding-004", 768)],
    otel_name: "gcp.gemini",
    ..row(
        "gemini",
        Api::Gemini,
        "https://generativelanguage.googleapis.com/v1beta",
        Some("GEMINI_API_KEY"),
    )
};
/// Cohere's own API.
pub const COHERE: Provider = Provider {
    embedding_models: &[
        ("embed-v4.0", 1536),
        ("embed-english-v3.0", 1024),
        ("embed-multilingual-v3.0", 1024),
        ("embed-english-light-v3.0", 384),
        ("embed-multilingual-light-v3.0", 384),
    ],
    ..row("cohere", Api::Cohere, "https://api.cohere.com/v2", Some("COHERE_API_KEY"))
};

/// Every provider known by name, the four wires' own first.
pub const PROVIDERS: &[Provider] = &[
    OPENAI,
    ANTHROPIC,
    GEMINI,
    COHERE,
    Provider {
        embedding_models: &[
            ("nomic-embed-text", 768),
            ("mxbai-embed-large", 1024),
            ("all-minilm", 384),
            ("bge-m3", 1024),
        ],
        ..row("ollama", Api::OpenAi, "http://localhost:11434/v1", None)
    },
    row("vllm", Api::OpenAi, "http://localhost:8000/v1", None),
    Provider {
        embedding_models: &[("mistral-embed", 1024)],
        otel_name: "mistral_ai",
        ..row("mistral", Api::OpenAi, "https://api.mistral.ai/v1", Some("MISTRAL_API_KEY"))
    },
    row("groq", Api::OpenAi, "https://api.groq.com/openai/v1", Some("GROQ_API_KEY")),
    row("openrouter", Api::OpenAi, "https://openrouter.ai/api/v1", Some("OPENROUTER_API_KEY")),
    row("deepseek", Api::OpenAi, "https://api.deepseek.com/v1", Some("DEEPSEEK_API_KEY")),
    row("together", Api::OpenAi, "https://api.together.xyz/v1", Some("TOGETHER_API_KEY")),
];

/// The provider with this id.
pub fn provider(id: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|provider| provider.id == id)
}

/// The provider a server at `base_url` speaking `api` is: the row whose API root it is, else
/// the wire's own provider (any OpenAI-compatible server speaks OpenAI's).
pub fn serving(api: Api, base_url: &str) -> &'static Provider {
    let base_url = base_url.trim_end_matches('/');
    PROVIDERS
        .iter()
        .find(|provider| provider.api == api && provider.base_url == base_url)
        .unwrap_or_else(|| api.home())
}

/// The inline forms of model names, for help texts and errors: `openai:MODEL, ...`.
pub fn inline_forms() -> String {
    let remote = PROVIDERS.iter().map(|p| format!("{}:MODEL", p.id));
    let local = ["FILE.gguf".to_string(), "hf:OWNER/REPO/FILE.gguf".to_string()];
    remote.chain(local).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_base_urls_parse_as_urls() {
        for (i, provider) in PROVIDERS.iter().enumerate() {
            assert!(PROVIDERS[..i].iter().all(|p| p.id != provider.id), "{}", provider.id);
            assert!(provider.base_url.starts_with("http"), "{}", provider.id);
            assert!(!provider.base_url.ends_with('/'), "{}", provider.id);
        }
        assert_eq!(provider("groq").map(|p| p.api), Some(Api::OpenAi));
        assert_eq!(serving(Api::OpenAi, "https://api.groq.com/openai/v1/").otel_name, "groq");
        assert_eq!(serving(Api::OpenAi, "http://10.0.0.5:8000/v1").otel_name, "openai");
        assert_eq!(serving(Api::Gemini, GEMINI.base_url).otel_name, "gcp.gemini");
        assert!(inline_forms().starts_with("openai:MODEL, anthropic:MODEL"));
        for reasoner in ["gpt-5-mini", "gpt-5", "o3", "o4-mini-2025-04-16", "openai/o1"] {
            assert!(OPENAI.is_reasoning_model(reasoner), "{reasoner}");
        }
        assert_eq!(OPENAI.embedding_dimensions("text-embedding-3-small"), Some(1536));
        assert_eq!(OPENAI.embedding_dimensions("gpt-4o"), None);
        for plain in ["gpt-4o-mini", "o3x", "gpt-4.1"] {
            assert!(!OPENAI.is_reasoning_model(plain), "{plain}");
        }
    }
}
