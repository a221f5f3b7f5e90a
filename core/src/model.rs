//! The model trait every backend implements, and the capabilities a model declares.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Capability, Error, Result};
use crate::message::Message;
use crate::request::{CacheTarget, ChatRequest, ResponseFormat, ToolChoice};
use crate::response::ChatResponse;
use crate::stream::{EventStream, collect_stream};

/// What a model can do. Requests asking for more fail with [`Error::Unsupported`] instead of
/// having the feature silently dropped; see [`Capabilities::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// It can call tools.
    pub tools: bool,
    /// It can be made to call a tool (`tool_choice` required, or a named tool).
    pub forced_tool_choice: bool,
    /// It can call several tools in one reply.
    pub parallel_tool_calls: bool,
    /// It can be held to replying with a JSON object.
    pub json_output: bool,
    /// It can be held to replying with JSON matching a schema.
    pub json_schema_output: bool,
    /// It streams tokens as they are generated. A model that cannot still implements
    /// [`Model::stream`], delivering its whole reply at the end.
    pub streaming: bool,
    /// How many tokens of prompt and reply fit together, when known.
    pub context_window: Option<u32>,
    /// It takes the sampling options of local models: `min_p`, `repetition_penalty` and
    /// `repeat_last_n`. A model that does not refuses them rather than ignore them.
    pub penalties: bool,
    /// It reads images in user messages and tool results.
    pub vision: bool,
    /// It reads documents (PDFs) in user messages and tool results.
    pub documents: bool,
    /// It takes [`crate::ReasoningOptions`] (a reasoning effort or budget).
    pub reasoning: bool,
    /// It takes provider options in [`ChatRequest::extra`] (remote models).
    pub provider_options: bool,
    /// It samples as it alone decides (OpenAI's reasoning models): a temperature or `top_p`
    /// other than 1 is refused rather than sent to be rejected.
    pub fixed_sampling: bool,
}

impl Capabilities {
    /// Everything on, with no known context window: for models that do it all, and for tests.
    pub fn all() -> Self {
        Capabilities {
            tools: true,
            forced_tool_choice: true,
            parallel_tool_calls: true,
            json_output: true,
            json_schema_output: true,
            streaming: true,
            context_window: None,
            penalties: true,
            vision: true,
            documents: true,
            reasoning: true,
            provider_options: true,
            fixed_sampling: false,
        }
    }

    /// What either can do: the capabilities of a model that sends each request to one that
    /// can serve it (a fallback). The context window is the larger one.
    pub fn union(&self, other: &Capabilities) -> Capabilities {
        Capabilities {
            tools: self.tools || other.tools,
            forced_tool_choice: self.forced_tool_choice || other.forced_tool_choice,
            parallel_tool_calls: self.parallel_tool_calls || other.parallel_tool_calls,
            json_output: self.json_output || other.json_output,
            json_schema_output: self.json_schema_output || other.json_schema_output,
            streaming: self.streaming || other.streaming,
            context_window: self.context_window.max(other.context_window),
            penalties: self.penalties || other.penalties,
            vision: self.vision || other.vision,
            documents: self.documents || other.documents,
            reasoning: self.reasoning || other.reasoning,
            provider_options: self.provider_options || other.provider_options,
            fixed_sampling: self.fixed_sampling && other.fixed_sampling,
        }
    }

    /// What both can do: the capabilities of a model that may send a request to either (a
    /// router). The context window is the smaller one, unknown when either is.
    pub fn intersection(&self, other: &Capabilities) -> Capabilities {
        Capabilities {
            tools: self.tools && other.tools,
            forced_tool_choice: self.forced_tool_choice && other.forced_tool_choice,
            parallel_tool_calls: self.parallel_tool_calls && other.parallel_tool_calls,
            json_output: self.json_output && other.json_output,
            json_schema_output: self.json_schema_output && other.json_schema_output,
            streaming: self.streaming && other.streaming,
            context_window: self.context_window.zip(other.context_window).map(|(a, b)| a.min(b)),
            penalties: self.penalties && other.penalties,
            vision: self.vision && other.vision,
            documents: self.documents && other.documents,
            reasoning: self.reasoning && other.reasoning,
            provider_options: self.provider_options && other.provider_options,
            fixed_sampling: self.fixed_sampling || other.fixed_sampling,
        }
    }

    /// Checks that `request` asks nothing beyond these capabilities, and that its tool choice
    /// names a declared tool. `model` names the model in the error.
    pub fn check(&self, model: &str, request: &ChatRequest) -> Result<()> {
        let lacks = |capability| Error::Unsupported { model: model.to_string(), capability };
        request.sampling.validate()?;
        if !request.tools.is_empty() && !self.tools {
            return Err(lacks(Capability::Tools));
        }
        if request.parallel_tool_calls == Some(true) && !self.parallel_tool_calls {
            return Err(lacks(Capability::ParallelToolCalls));
        }
        match &request.response_format {
            ResponseFormat::Text => {}
            ResponseFormat::Json if !self.json_output => return Err(lacks(Capability::JsonOutput)),
            ResponseFormat::Json => {}
            ResponseFormat::JsonSchema { .. } if !self.json_schema_output => {
                return Err(lacks(Capability::JsonSchemaOutput));
            }
            ResponseFormat::JsonSchema { .. } => {}
        }
        if !self.penalties && !request.sampling.penalties_set().is_empty() {
            return Err(lacks(Capability::Penalties(request.sampling.penalties_set().join(", "))));
        }
        self.check_content(request).map_err(lacks)?;
        if request.reasoning.is_some() && !self.reasoning {
            return Err(lacks(Capability::Reasoning));
        }
        if !request.extra.is_empty() && !self.provider_options {
            let keys: Vec<&str> = request.extra.keys().map(String::as_str).collect();
            return Err(lacks(Capability::ProviderOptions(keys.join(", "))));
        }
        if self.fixed_sampling {
            let sampling = &request.sampling;
            let set = |value: Option<f64>| value.is_some_and(|v| v != 1.0);
            if set(sampling.temperature) {
                return Err(lacks(Capability::Sampling("temperature".into())));
            }
            if set(sampling.top_p) {
                return Err(lacks(Capability::Sampling("top_p".into())));
            }
        }
        if let Some(point) = request.cache.iter().find(|point| {
            matches!(point.target, CacheTarget::Message { index } if index >= request.messages.len())
        }) {
            return Err(Error::InvalidRequest {
                status: None,
                message: format!(
                    "a cache breakpoint is at {:?}, past the request's {} messages",
                    point.target,
                    request.messages.len()
                ),
            });
        }
        let forced = matches!(request.tool_choice, ToolChoice::Required | ToolChoice::Tool { .. });
        if forced && !request.tools.is_empty() && !self.forced_tool_choice {
            return Err(lacks(Capability::ForcedToolChoice));
        }
        match &request.tool_choice {
            ToolChoice::Required if request.tools.is_empty() => Err(Error::InvalidRequest {
                status: None,
                message: "tool_choice is `required` but the request declares no tools".into(),
            }),
            ToolChoice::Tool { name } if !request.tools.iter().any(|t| &t.name == name) => {
                Err(Error::InvalidRequest {
                    status: None,
                    message: format!(
                        "tool_choice names `{name}`, which the request does not declare"
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

impl Capabilities {
    /// The first image or document in the request's user messages and tool results that
    /// these capabilities cannot read, as the capability it lacks.
    fn check_content(&self, request: &ChatRequest) -> std::result::Result<(), Capability> {
        for message in &request.messages {
            let content = match message {
                Message::User { content } => content,
                Message::Tool(result) => &result.content,
                _ => continue,
            };
            if content.has_images() && !self.vision {
                return Err(Capability::Vision);
            }
            if content.has_documents() && !self.documents {
                return Err(Capability::Documents);
            }
        }
        Ok(())
    }
}

/// A chat model: local or remote, behind one interface.
///
/// Implementors provide [`Model::stream`]; [`Model::chat`] defaults to collecting that stream with
/// the shared [`crate::ReplyAggregator`], and may be overridden where a backend has a cheaper
/// whole-reply call. Both must start with [`Capabilities::check`], so that an unsupported request
/// fails with [`Error::Unsupported`].
///
/// The trait is object-safe: pick a model at run time as an `Arc<dyn Model>`, which is itself a
/// `Model`, so wrappers (retry, fallback) compose without the caller knowing.
#[async_trait]
pub trait Model: Send + Sync {
    /// A name for the model in records and errors, such as `openai:gpt-4o-mini`.
    fn name(&self) -> &str;

    /// Who serves it, as OpenTelemetry's GenAI conventions name providers (`openai`,
    /// `anthropic`, `gcp.gemini`, `groq`, ...): the `gen_ai.provider.name` of its spans. By
    /// default the part of [`Model::name`] before its `:` (`local` for `local:SmolLM2`); `_OTHER`
    /// when the name has none.
    fn provider(&self) -> &str {
        provider_of(self.name())
    }

    /// What this model supports.
    fn capabilities(&self) -> Capabilities;

    /// Generates a whole reply.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        collect_stream(self.stream(request).await?).await
    }

    /// Generates a reply as a stream of events, ending with [`crate::StreamEvent::Finish`].
    async fn stream(&self, request: ChatRequest) -> Result<EventStream>;

    /// What the model would receive for `request`, for a person to read: a local model's
    /// rendered prompt, a remote one's request body (keys travel in headers, never here).
    /// `None` (the default) when the backend cannot say.
    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        let _ = request;
        Ok(None)
    }

    /// How many tokens `request`'s prompt takes for this model (what a server's
    /// `count_tokens` answers): exact for a local model, which tokenises it as it would run it.
    /// `None` (the default) when the backend cannot count.
    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        let _ = request;
        Ok(None)
    }
}

/// The provider a model's name gives: what comes before `ID:MODEL`'s colon, when that is a
/// plain word; OpenTelemetry's `_OTHER` otherwise.
pub(crate) fn provider_of(name: &str) -> &str {
    match name.split_once(':') {
        Some((id, _))
            if !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
        {
            id
        }
        _ => "_OTHER",
    }
}

/// The model's own name on its server: [`Model::name`] without its `PROVIDER:` prefix, as the
/// `gen_ai.request.model` of its spans.
pub(crate) fn model_of(name: &str) -> &str {
    match name.split_once(':') {
        Some((id, model)) if provider_of(name) == id => model,
        _ => name,
    }
}

/// Inside `impl Model for Wrapper`: the methods that say what the model is
/// ([`Model::name`], [`Model::provider`], [`Model::capabilities`]), passed to the model in the
/// field `$inner`: for wrappers that change how calls are made, not who answers them (retries,
/// sampling defaults, logging, tracing).
#[macro_export]
macro_rules! forward_model_identity {
    ($inner:ident) => {
        fn name(&self) -> &str {
            $crate::Model::name(&self.$inner)
        }

        fn provider(&self) -> &str {
            $crate::Model::provider(&self.$inner)
        }

        fn capabilities(&self) -> $crate::Capabilities {
            $crate::Model::capabilities(&self.$inner)
        }
    };
}

macro_rules! forward_model {
    ($pointer:ident) => {
        #[async_trait]
        impl<M: Model + ?Sized> Model for $pointer<M> {
            fn name(&self) -> &str {
                (**self).name()
            }

            fn provider(&self) -> &str {
                (**self).provider()
            }

            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }

            async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
                (**self).chat(request).await
            }

            async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
                (**self).stream(request).await
            }

            async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
                (**self).preview(request).await
            }

            async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
                (**self).count_tokens(request).await
            }
        }
    };
}

forward_model!(Arc);
forward_model!(Box);

#[cfg(test)]
mod tests {
    #[test]
    fn capabilities_combine_as_either_or_both() {
        use super::Capabilities;
        let local = Capabilities { context_window: Some(8192), ..Capabilities::all() };
        let plain =
            Capabilities { streaming: true, context_window: Some(4096), ..Default::default() };
        let either = local.union(&plain);
        assert!(either.tools && either.streaming && either.context_window == Some(8192));
        let both = local.intersection(&plain);
        assert!(!both.tools && both.streaming && both.context_window == Some(4096));
        assert_eq!(local.intersection(&Capabilities::all()).context_window, None);
    }

    use super::*;
    use crate::request::ToolSpec;
    use serde_json::json;

    fn tool(name: &str) -> ToolSpec {
        ToolSpec { name: name.into(), description: String::new(), parameters: json!({}) }
    }

    #[test]
    fn unsupported_features_are_typed_errors() {
        let plain = Capabilities { streaming: true, ..Default::default() };
        let with_tools = ChatRequest::user("hi").with_tools([tool("clock")]);
        assert_eq!(
            plain.check("tiny", &with_tools),
            Err(Error::Unsupported { model: "tiny".into(), capability: Capability::Tools })
        );
        let json = ChatRequest::user("hi").with_response_format(ResponseFormat::Json);
        assert!(matches!(
            plain.check("tiny", &json),
            Err(Error::Unsupported { capability: Capability::JsonOutput, .. })
        ));
        let mut parallel = with_tools.clone();
        parallel.parallel_tool_calls = Some(true);
        let tools_only = Capabilities { tools: true, ..Default::default() };
        assert!(matches!(
            tools_only.check("tiny", &parallel),
            Err(Error::Unsupported { capability: Capability::ParallelToolCalls, .. })
        ));
        assert_eq!(tools_only.check("tiny", &with_tools), Ok(()));
        let forced = with_tools.clone().with_tool_choice(ToolChoice::Required);
        assert!(matches!(
            tools_only.check("tiny", &forced),
            Err(Error::Unsupported { capability: Capability::ForcedToolChoice, .. })
        ));
        assert_eq!(Capabilities::all().check("big", &parallel), Ok(()));
        // The local models' sampling options are refused, never dropped.
        let penalised = ChatRequest::user("hi").with_sampling(crate::Sampling {
            repetition_penalty: Some(1.2),
            min_p: Some(0.1),
            ..Default::default()
        });
        let error = plain.check("remote", &penalised).unwrap_err();
        assert_eq!(
            error.to_string(),
            "model `remote` does not support the local-model sampling options min_p, repetition_penalty"
        );
    }

    #[test]
    fn media_reasoning_and_provider_options_need_their_capabilities() {
        use crate::{Content, Part, ReasoningOptions};
        let text_only = Capabilities { streaming: true, ..Default::default() };
        let photo =
            ChatRequest::user(Content::from("What is it?").with(Part::image(b"x", "image/png")));
        assert_eq!(
            text_only.check("local", &photo).unwrap_err().to_string(),
            "model `local` does not support images"
        );
        let pdf = ChatRequest::user(Content::from(Part::document(b"%PDF", "application/pdf")));
        assert!(matches!(
            text_only.check("local", &pdf),
            Err(Error::Unsupported { capability: Capability::Documents, .. })
        ));
        let thinking = ChatRequest::user("hi").with_reasoning(ReasoningOptions::budget(1024));
        assert!(matches!(
            text_only.check("local", &thinking),
            Err(Error::Unsupported { capability: Capability::Reasoning, .. })
        ));
        let extra = ChatRequest::user("hi").with_extra("user", "u1");
        assert!(text_only.check("local", &extra).unwrap_err().to_string().contains("(user)"));
        for request in [&photo, &pdf, &thinking, &extra] {
            assert_eq!(Capabilities::all().check("remote", request), Ok(()));
        }
        let reasoner = Capabilities { fixed_sampling: true, ..Capabilities::all() };
        let warm = ChatRequest::user("hi")
            .with_sampling(crate::Sampling { temperature: Some(0.2), ..Default::default() });
        assert!(reasoner.check("o3", &warm).unwrap_err().to_string().contains("temperature"));
        let default_temperature = ChatRequest::user("hi")
            .with_sampling(crate::Sampling { temperature: Some(1.0), ..Default::default() });
        assert_eq!(reasoner.check("o3", &default_temperature), Ok(()));
        let past_the_end = ChatRequest::user("hi")
            .with_cache(crate::CacheBreakpoint::at(CacheTarget::Message { index: 3 }));
        assert!(matches!(
            Capabilities::all().check("m", &past_the_end),
            Err(Error::InvalidRequest { .. })
        ));
    }

    #[test]
    fn tool_choice_must_name_a_declared_tool() {
        let request = ChatRequest::user("hi")
            .with_tools([tool("clock")])
            .with_tool_choice(ToolChoice::Tool { name: "weather".into() });
        let err = Capabilities::all().check("m", &request).unwrap_err();
        assert!(err.to_string().contains("`weather`"), "{err}");
        let required = ChatRequest::user("hi").with_tool_choice(ToolChoice::Required);
        assert!(matches!(
            Capabilities::all().check("m", &required),
            Err(Error::InvalidRequest { .. })
        ));
    }
}
