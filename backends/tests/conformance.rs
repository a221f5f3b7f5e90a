//! One suite, every backend: the same scenarios run against each backend (the scripted model
//! included), and each must behave the same through the core trait. Remote backends run against
//! mock servers that speak their wire format; a later backend joins by adding a [`Backend`]. The
//! local backend, which cannot replay scripted replies, runs the scenarios that make sense for it.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::cohere::{Cohere, CohereConfig};
use anymodel_backends::gemini::{Gemini, GeminiConfig};
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{
    Agent, ChatRequest, ChatResponse, Content, Error, FinishReason, Message, Model, Part,
    Reasoning, ResponseFormat, Sampling, ScriptedModel, ScriptedReply, ToolCall, ToolError,
    TypedTool, Usage, async_trait, collect_stream,
};
use serde::Deserialize;
use serde_json::{Value, json};
use support::{data_events, named_events, sse_response, weather};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A failure every backend must report with the same error class.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Unauthorized,
    RateLimited,
    Overloaded,
    BadRequest,
    ContextTooLong,
    UnknownModel,
}

impl Failure {
    const ALL: [Failure; 6] = [
        Failure::Unauthorized,
        Failure::RateLimited,
        Failure::Overloaded,
        Failure::BadRequest,
        Failure::ContextTooLong,
        Failure::UnknownModel,
    ];

    fn status(self) -> u16 {
        match self {
            Failure::Unauthorized => 401,
            Failure::RateLimited => 429,
            Failure::Overloaded => 503,
            Failure::BadRequest | Failure::ContextTooLong => 400,
            Failure::UnknownModel => 404,
        }
    }

    /// What `backend`'s server says: each provider words an overlong prompt its own way.
    fn message(self, backend: &dyn Backend) -> &'static str {
        match self {
            Failure::ContextTooLong => backend.context_overflow(),
            _ => "the server says no",
        }
    }

    /// The core error `backend` must report (what the scripted model is told to fail with).
    fn error(self, backend: &dyn Backend) -> Error {
        let message = format!("HTTP {}: {}", self.status(), self.message(backend));
        match self {
            Failure::Unauthorized => Error::Authentication { message },
            Failure::RateLimited => {
                Error::RateLimited { message, retry_after: Some(Duration::from_secs(7)) }
            }
            Failure::Overloaded => Error::Transient { message, retry_after: None },
            Failure::BadRequest => Error::InvalidRequest { status: Some(400), message },
            Failure::ContextTooLong => Error::ContextLengthExceeded { message },
            Failure::UnknownModel => Error::NotFound { message },
        }
    }
}

/// A model under test, with the mock server behind it (if any), which lives as long as it.
struct Served {
    model: Arc<dyn Model>,
    _server: Option<MockServer>,
}

impl std::ops::Deref for Served {
    type Target = Arc<dyn Model>;

    fn deref(&self) -> &Arc<dyn Model> {
        &self.model
    }
}

/// Anthropic's wording of a prompt longer than the context.
const PROMPT_TOO_LONG: &str = "prompt is too long: 9000 tokens > 8192 maximum";

/// A backend under test: how to get a model of it that gives these replies in turn, or fails.
#[async_trait]
trait Backend: Sync {
    fn name(&self) -> &'static str;
    async fn replying(&self, replies: Vec<ChatResponse>) -> Served;
    async fn failing(&self, failure: Failure) -> Served;

    /// The message its server gives for a prompt longer than the context.
    fn context_overflow(&self) -> &'static str {
        PROMPT_TOO_LONG
    }

    /// Whether its wire has no call ids, so that the backend makes them up
    /// (`ToolCall::minted_id`).
    fn mints_call_ids(&self) -> bool {
        false
    }

    /// A reply with reasoning before a tool call and cache usage, in the form its wire carries
    /// them (a signature where the provider signs, the cache counts it reports).
    fn reasoning_reply(&self) -> ChatResponse;
}

/// A reply that reasoned (in two blocks when `signed_by` signs them) before calling a tool, with
/// `usage`.
fn reasoned(signed_by: Option<&str>, usage: Usage) -> ChatResponse {
    let block = |text: &str, signature: &str| Reasoning {
        text: text.into(),
        signature: signed_by.map(|_| signature.to_string()),
        redacted: None,
        provider: signed_by.map(str::to_string),
    };
    let reasoning = match signed_by {
        Some(_) => {
            vec![block("The user wants Paris.", "sig-1"), block("Then the weather.", "sig-2")]
        }
        None => vec![block("The user wants Paris. Then the weather.", "")],
    };
    let mut reply =
        ChatResponse::tool_calls(vec![ToolCall::new("c1", "weather", json!({"city": "Paris"}))])
            .with_usage(usage);
    reply.message.reasoning = reasoning;
    reply
}

struct Scripted;

#[async_trait]
impl Backend for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn replying(&self, replies: Vec<ChatResponse>) -> Served {
        Served { model: Arc::new(ScriptedModel::new(replies)), _server: None }
    }

    async fn failing(&self, failure: Failure) -> Served {
        let model = ScriptedModel::new([ScriptedReply::Fail(failure.error(self))]);
        Served { model: Arc::new(model), _server: None }
    }

    fn reasoning_reply(&self) -> ChatResponse {
        let usage = Usage::new(100, 20).with_cached_input(64).with_cache_write_input(8);
        reasoned(Some("scripted"), usage.with_reasoning(12))
    }
}

/// A provider's wire format, as its mock server speaks it. Every such server is a [`Backend`].
trait Wire: Clone + Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// A reply, whole or as a stream.
    fn encode(&self, reply: &ChatResponse, stream: bool) -> ResponseTemplate;

    /// The body of an error response.
    fn error_body(&self, failure: Failure) -> Value;

    /// The backend's model, talking to `server`.
    fn connect(&self, server: &MockServer) -> Arc<dyn Model>;

    /// A stream that starts well (HTTP 200) and then carries the provider's error for a rate
    /// limit saying "Slow down, please", and the class it must become (see [`class`]).
    fn stream_with_error(&self) -> (String, &'static str);

    /// Whether a request asks for a stream: `"stream": true` in the body, as OpenAI, Anthropic
    /// and Cohere say it.
    fn wants_stream(&self, request: &Request) -> bool {
        request.body_json::<Value>().unwrap()["stream"] == true
    }

    /// Whether a rate limit says how long to wait in a `retry-after` header.
    fn wait_in_header(&self) -> bool {
        true
    }

    /// See [`Backend::context_overflow`].
    fn context_overflow(&self) -> &'static str {
        PROMPT_TOO_LONG
    }

    /// See [`Backend::mints_call_ids`].
    fn mints_call_ids(&self) -> bool {
        false
    }

    /// See [`Backend::reasoning_reply`].
    fn reasoning_reply(&self) -> ChatResponse;
}

#[async_trait]
impl<W: Wire> Backend for W {
    fn reasoning_reply(&self) -> ChatResponse {
        Wire::reasoning_reply(self)
    }

    fn name(&self) -> &'static str {
        Wire::name(self)
    }

    async fn replying(&self, replies: Vec<ChatResponse>) -> Served {
        let replay = Replay { replies: Mutex::new(replies.into()), wire: self.clone() };
        let server = serve(replay).await;
        Served { model: self.connect(&server), _server: Some(server) }
    }

    async fn failing(&self, failure: Failure) -> Served {
        let mut response =
            ResponseTemplate::new(failure.status()).set_body_json(self.error_body(failure));
        if matches!(failure, Failure::RateLimited) && self.wait_in_header() {
            response = response.insert_header("retry-after", "7");
        }
        let server = serve(response).await;
        Served { model: self.connect(&server), _server: Some(server) }
    }

    fn context_overflow(&self) -> &'static str {
        Wire::context_overflow(self)
    }

    fn mints_call_ids(&self) -> bool {
        Wire::mints_call_ids(self)
    }
}

/// A mock server's answer to each request: the next reply, encoded whole or as a stream as the
/// request asks.
struct Replay<W> {
    replies: Mutex<VecDeque<ChatResponse>>,
    wire: W,
}

impl<W: Wire> Respond for Replay<W> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let reply = self.replies.lock().unwrap().pop_front().expect("more requests than replies");
        self.wire.encode(&reply, self.wire.wants_stream(request))
    }
}

async fn serve(responder: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST")).respond_with(responder).mount(&server).await;
    server
}

/// Halves of a string, so that every streamed piece arrives in two fragments.
fn halves(text: &str) -> [String; 2] {
    let cut = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
    [text[..cut].to_string(), text[cut..].to_string()]
}

#[derive(Clone)]
struct OpenAiServer;

impl OpenAiServer {
    fn finish(reason: &FinishReason) -> &'static str {
        match reason {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            // No provider stops a reply for repeating itself: only local models do.
            FinishReason::Repetition | FinishReason::Other(_) => "other",
        }
    }
}

impl Wire for OpenAiServer {
    fn stream_with_error(&self) -> (String, &'static str) {
        let error = json!({"error": {"message": "Slow down, please", "type": "requests", "code": "rate_limit_exceeded"}});
        (format!("data: {error}\n\n"), "RateLimited")
    }

    fn name(&self) -> &'static str {
        "openai"
    }

    fn encode(&self, reply: &ChatResponse, stream: bool) -> ResponseTemplate {
        let message = &reply.message;
        let u = &reply.usage;
        let usage = json!({
            "prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        });
        let reasoning = message.reasoning_text();
        if !stream {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments.to_string()},
                    })
                })
                .collect();
            let content = if message.content.is_empty() {
                Value::Null
            } else {
                message.content.clone().into()
            };
            let mut wire = json!({"role": "assistant", "content": content});
            if !calls.is_empty() {
                wire["tool_calls"] = calls.into();
            }
            if !reasoning.is_empty() {
                wire["reasoning_content"] = reasoning.into();
            }
            return ResponseTemplate::new(200).set_body_json(json!({
                "id": "chatcmpl-1", "object": "chat.completion",
                "choices": [{"index": 0, "message": wire, "finish_reason": Self::finish(&reply.finish_reason)}],
                "usage": usage,
            }));
        }
        let chunk = |delta: Value| json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
        let mut chunks = vec![chunk(json!({"role": "assistant"}))];
        if !reasoning.is_empty() {
            chunks.extend(halves(&reasoning).map(|part| chunk(json!({"reasoning_content": part}))));
        }
        if !message.content.is_empty() {
            chunks.extend(halves(&message.content).map(|part| chunk(json!({"content": part}))));
        }
        for (index, call) in message.tool_calls.iter().enumerate() {
            chunks.push(chunk(json!({"tool_calls": [{"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]})));
            for part in halves(&call.arguments.to_string()) {
                chunks.push(chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": part}}]}),
                ));
            }
        }
        chunks.push(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": Self::finish(&reply.finish_reason)}]}));
        chunks.push(json!({"choices": [], "usage": usage}));
        sse_response(data_events(&chunks) + "data: [DONE]\n\n")
    }

    fn error_body(&self, failure: Failure) -> Value {
        json!({"error": {"message": failure.message(self), "type": "error"}})
    }

    fn connect(&self, server: &MockServer) -> Arc<dyn Model> {
        let config = OpenAiConfig::new("gpt-test")
            .base_url(server.uri())
            .api_key(Secret::new("test-key-0001"));
        Arc::new(OpenAi::new(config).unwrap())
    }

    fn context_overflow(&self) -> &'static str {
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    }

    /// Reasoning as text (`reasoning_content`, unsigned), cached and reasoning token counts.
    fn reasoning_reply(&self) -> ChatResponse {
        reasoned(None, Usage::new(100, 20).with_cached_input(64).with_reasoning(12))
    }
}

#[derive(Clone)]
struct AnthropicServer;

impl AnthropicServer {
    fn stop(reason: &FinishReason) -> &'static str {
        match reason {
            FinishReason::Stop => "end_turn",
            FinishReason::Length => "max_tokens",
            FinishReason::ToolCalls => "tool_use",
            FinishReason::ContentFilter => "refusal",
            // No provider stops a reply for repeating itself: only local models do.
            FinishReason::Repetition | FinishReason::Other(_) => "other",
        }
    }
}

impl Wire for AnthropicServer {
    fn stream_with_error(&self) -> (String, &'static str) {
        let error = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down, please"}});
        (format!("event: error\ndata: {error}\n\n"), "RateLimited")
    }

    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn encode(&self, reply: &ChatResponse, stream: bool) -> ResponseTemplate {
        let message = &reply.message;
        let stop = Self::stop(&reply.finish_reason);
        // Anthropic counts cache reads and writes apart from `input_tokens`.
        let u = &reply.usage;
        let uncached = u.input_tokens - u.cached_input_tokens - u.cache_write_input_tokens;
        let input_usage = json!({
            "input_tokens": uncached,
            "cache_read_input_tokens": u.cached_input_tokens,
            "cache_creation_input_tokens": u.cache_write_input_tokens,
        });
        if !stream {
            let mut content: Vec<Value> = message
                .reasoning
                .iter()
                .map(|r| json!({"type": "thinking", "thinking": r.text, "signature": r.signature}))
                .collect();
            if !message.content.is_empty() {
                content.push(json!({"type": "text", "text": message.content}));
            }
            content.extend(message.tool_calls.iter().map(
                |c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}),
            ));
            let mut usage = input_usage;
            usage["output_tokens"] = u.output_tokens.into();
            return ResponseTemplate::new(200).set_body_json(json!({
                "id": "msg_1", "type": "message", "role": "assistant", "content": content,
                "stop_reason": stop, "usage": usage,
            }));
        }
        let mut start_usage = input_usage;
        start_usage["output_tokens"] = 1.into();
        let mut events = vec![json!({"type": "message_start", "message": {"usage": start_usage}})];
        let mut block = 0;
        for thought in &message.reasoning {
            events.push(json!({"type": "content_block_start", "index": block, "content_block": {"type": "thinking", "thinking": ""}}));
            events.extend(halves(&thought.text).map(|part| json!({"type": "content_block_delta", "index": block, "delta": {"type": "thinking_delta", "thinking": part}})));
            events.push(json!({"type": "content_block_delta", "index": block, "delta": {"type": "signature_delta", "signature": thought.signature}}));
            events.push(json!({"type": "content_block_stop", "index": block}));
            block += 1;
        }
        if !message.content.is_empty() {
            events.push(json!({"type": "content_block_start", "index": block, "content_block": {"type": "text", "text": ""}}));
            events.extend(halves(&message.content).map(|part| json!({"type": "content_block_delta", "index": block, "delta": {"type": "text_delta", "text": part}})));
            events.push(json!({"type": "content_block_stop", "index": block}));
            block += 1;
        }
        for call in &message.tool_calls {
            events.push(json!({"type": "content_block_start", "index": block, "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}));
            events.extend(halves(&call.arguments.to_string()).map(|part| json!({"type": "content_block_delta", "index": block, "delta": {"type": "input_json_delta", "partial_json": part}})));
            events.push(json!({"type": "content_block_stop", "index": block}));
            block += 1;
        }
        events.push(json!({"type": "ping"}));
        events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": reply.usage.output_tokens}}));
        events.push(json!({"type": "message_stop"}));
        sse_response(named_events(&events))
    }

    fn error_body(&self, failure: Failure) -> Value {
        json!({"type": "error", "error": {"type": "some_error", "message": failure.message(self)}})
    }

    fn connect(&self, server: &MockServer) -> Arc<dyn Model> {
        let config = AnthropicConfig::new("claude-test")
            .base_url(server.uri())
            .api_key(Secret::new("test-key-0001"));
        Arc::new(Anthropic::new(config).unwrap())
    }

    /// Signed thinking blocks; cache reads and writes (no count of thinking tokens).
    fn reasoning_reply(&self) -> ChatResponse {
        let usage = Usage::new(100, 20).with_cached_input(64).with_cache_write_input(8);
        reasoned(Some("anthropic"), usage)
    }
}

#[derive(Clone)]
struct GeminiServer;

impl GeminiServer {
    fn finish(reason: &FinishReason) -> &'static str {
        match reason {
            FinishReason::Stop | FinishReason::ToolCalls => "STOP",
            FinishReason::Length => "MAX_TOKENS",
            FinishReason::ContentFilter => "SAFETY",
            FinishReason::Repetition | FinishReason::Other(_) => "OTHER",
        }
    }

    /// Gemini counts thoughts apart from the candidates.
    fn usage(reply: &ChatResponse) -> Value {
        let u = &reply.usage;
        let (input, output) = (u.input_tokens, u.output_tokens);
        json!({
            "promptTokenCount": input, "candidatesTokenCount": output - u.reasoning_tokens,
            "cachedContentTokenCount": u.cached_input_tokens,
            "thoughtsTokenCount": u.reasoning_tokens, "totalTokenCount": input + output,
        })
    }

    /// A thought's parts: its text in two halves, the signature on the last.
    fn thought(reasoning: &Reasoning) -> [Value; 2] {
        let [first, second] = halves(&reasoning.text);
        [
            json!({"text": first, "thought": true}),
            json!({"text": second, "thought": true, "thoughtSignature": reasoning.signature}),
        ]
    }

    fn call(call: &ToolCall) -> Value {
        json!({"functionCall": {"name": call.name, "args": call.arguments}})
    }
}

impl Wire for GeminiServer {
    fn stream_with_error(&self) -> (String, &'static str) {
        let error = json!({"error": {"code": 429, "message": "Slow down, please", "status": "RESOURCE_EXHAUSTED"}});
        (format!("data: {error}\n\n"), "RateLimited")
    }

    fn name(&self) -> &'static str {
        "gemini"
    }

    /// Whole: one candidate with every part. Streamed: the text in pieces, each call whole in its
    /// own chunk (as Gemini sends them), the finish reason and usage on the last chunk; no end
    /// marker.
    fn encode(&self, reply: &ChatResponse, stream: bool) -> ResponseTemplate {
        let message = &reply.message;
        let candidate = |parts: Vec<Value>| json!({"content": {"role": "model", "parts": parts}});
        let finish = Self::finish(&reply.finish_reason);
        if !stream {
            let mut parts: Vec<Value> = message
                .reasoning
                .iter()
                .map(|r| json!({"text": r.text, "thought": true, "thoughtSignature": r.signature}))
                .collect();
            if !message.content.is_empty() {
                parts.push(json!({"text": message.content}));
            }
            parts.extend(message.tool_calls.iter().map(Self::call));
            let mut candidate = candidate(parts);
            candidate["finishReason"] = finish.into();
            return ResponseTemplate::new(200).set_body_json(
                json!({"candidates": [candidate], "usageMetadata": Self::usage(reply)}),
            );
        }
        let mut chunks = Vec::new();
        for thought in &message.reasoning {
            chunks.extend(
                Self::thought(thought).map(|part| json!({"candidates": [candidate(vec![part])]})),
            );
        }
        if !message.content.is_empty() {
            chunks.extend(
                halves(&message.content)
                    .map(|part| json!({"candidates": [candidate(vec![json!({"text": part})])]})),
            );
        }
        chunks.extend(
            message
                .tool_calls
                .iter()
                .map(|c| json!({"candidates": [candidate(vec![Self::call(c)])]})),
        );
        let mut last = candidate(vec![json!({"text": ""})]);
        last["finishReason"] = finish.into();
        chunks.push(json!({"candidates": [last], "usageMetadata": Self::usage(reply)}));
        sse_response(data_events(&chunks))
    }

    /// Google's error body; a rate limit says how long to wait in a `RetryInfo` detail.
    fn error_body(&self, failure: Failure) -> Value {
        let mut error =
            json!({"code": failure.status(), "message": failure.message(self), "status": "FAILED"});
        if let Failure::RateLimited = failure {
            error["details"] =
                json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]);
        }
        json!({"error": error})
    }

    fn connect(&self, server: &MockServer) -> Arc<dyn Model> {
        let config = GeminiConfig::new("gemini-test")
            .base_url(server.uri())
            .api_key(Secret::new("test-key-0001"));
        Arc::new(Gemini::new(config).unwrap())
    }

    /// Streams go to another method, not a body field.
    fn wants_stream(&self, request: &Request) -> bool {
        request.url.path().ends_with(":streamGenerateContent")
    }

    fn wait_in_header(&self) -> bool {
        false
    }

    fn context_overflow(&self) -> &'static str {
        "The input token count (9000) exceeds the maximum number of tokens allowed (8192)."
    }

    /// Gemini's calls carry no ids.
    fn mints_call_ids(&self) -> bool {
        true
    }

    /// Thought summaries with their signatures; cached and thought token counts.
    fn reasoning_reply(&self) -> ChatResponse {
        reasoned(Some("gemini"), Usage::new(100, 20).with_cached_input(64).with_reasoning(12))
    }
}

#[derive(Clone)]
struct CohereServer;

impl CohereServer {
    /// Cohere has no content-filter finish; `ERROR` stands for any other.
    fn finish(reason: &FinishReason) -> &'static str {
        match reason {
            FinishReason::Stop => "COMPLETE",
            FinishReason::Length => "MAX_TOKENS",
            FinishReason::ToolCalls => "TOOL_CALL",
            FinishReason::ContentFilter | FinishReason::Repetition | FinishReason::Other(_) => {
                "ERROR"
            }
        }
    }

    fn usage(reply: &ChatResponse) -> Value {
        let tokens = json!({"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens});
        json!({"billed_units": tokens, "tokens": tokens})
    }
}

impl Wire for CohereServer {
    /// Cohere says a stream failed in its `message-end`, with a message and no class.
    fn stream_with_error(&self) -> (String, &'static str) {
        let end = json!({"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "Slow down, please"}});
        (format!("event: message-end\ndata: {end}\n\n"), "Backend")
    }

    fn name(&self) -> &'static str {
        "cohere"
    }

    /// Whole: the text as content, or as the tool plan when there are calls. Streamed: the v2
    /// events, each piece of text and arguments in two deltas.
    fn encode(&self, reply: &ChatResponse, stream: bool) -> ResponseTemplate {
        let message = &reply.message;
        let finish = Self::finish(&reply.finish_reason);
        let call = |c: &ToolCall, arguments: String| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments}});
        let calling = !message.tool_calls.is_empty();
        if !stream {
            let mut wire = json!({"role": "assistant"});
            if calling {
                wire["tool_calls"] = message
                    .tool_calls
                    .iter()
                    .map(|c| call(c, c.arguments.to_string()))
                    .collect::<Vec<_>>()
                    .into();
                if !message.content.is_empty() {
                    wire["tool_plan"] = message.content.clone().into();
                }
            } else {
                wire["content"] = json!([{"type": "text", "text": message.content}]);
            }
            let reasoning = message.reasoning_text();
            if !reasoning.is_empty() {
                let thinking = json!({"type": "thinking", "thinking": reasoning});
                match wire["content"].as_array_mut() {
                    Some(content) => content.insert(0, thinking),
                    None => wire["content"] = json!([thinking]),
                }
            }
            return ResponseTemplate::new(200).set_body_json(json!({
                "id": "r1", "finish_reason": finish, "message": wire, "usage": Self::usage(reply),
            }));
        }
        let mut events = vec![
            json!({"type": "message-start", "id": "r1", "delta": {"message": {"role": "assistant"}}}),
        ];
        let reasoning = message.reasoning_text();
        if !reasoning.is_empty() {
            events.extend(halves(&reasoning).map(|part| json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": part}}}})));
        }
        if calling {
            events.extend(halves(&message.content).into_iter().filter(|p| !p.is_empty()).map(
                |part| json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": part}}}),
            ));
        } else {
            events.push(json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}));
            events.extend(halves(&message.content).map(|part| json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": part}}}})));
            events.push(json!({"type": "content-end", "index": 0}));
        }
        for (index, c) in message.tool_calls.iter().enumerate() {
            events.push(json!({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": call(c, String::new())}}}));
            events.extend(halves(&c.arguments.to_string()).map(|part| json!({"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls": {"function": {"arguments": part}}}}})));
            events.push(json!({"type": "tool-call-end", "index": index}));
        }
        events.push(json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": Self::usage(reply)}}));
        sse_response(named_events(&events))
    }

    fn error_body(&self, failure: Failure) -> Value {
        json!({"id": "e1", "message": failure.message(self)})
    }

    fn connect(&self, server: &MockServer) -> Arc<dyn Model> {
        let config = CohereConfig::new("command-test")
            .base_url(server.uri())
            .api_key(Secret::new("test-key-0001"));
        Arc::new(Cohere::new(config).unwrap())
    }

    fn context_overflow(&self) -> &'static str {
        "too many tokens: size limit exceeded by 808 tokens. Try using shorter or fewer inputs."
    }

    /// Thinking as text; Cohere reports no cache counts.
    fn reasoning_reply(&self) -> ChatResponse {
        reasoned(None, Usage::new(100, 20))
    }
}

fn backends() -> [&'static dyn Backend; 5] {
    [&Scripted, &OpenAiServer, &AnthropicServer, &GeminiServer, &CohereServer]
}

/// The replies every backend must hand back unchanged, whole and streamed.
fn replies() -> Vec<(&'static str, ChatResponse)> {
    let mut truncated = ChatResponse::text("Once upon a");
    truncated.finish_reason = FinishReason::Length;
    let mut explained =
        ChatResponse::tool_calls(vec![ToolCall::new("c1", "weather", json!({"city": "Zürich"}))]);
    explained.message.content = "Let me look that up.".into();
    vec![
        ("plain text", ChatResponse::text("Hello, world. ünïcödé ✓").with_usage(Usage::new(11, 7))),
        ("cut by the token limit", truncated.with_usage(Usage::new(5, 3))),
        ("one tool call with text", explained.with_usage(Usage::new(30, 12))),
        (
            "two parallel tool calls",
            ChatResponse::tool_calls(vec![
                ToolCall::new("c1", "weather", json!({"city": "Paris"})),
                ToolCall::new("c2", "weather", json!({"city": "Rome", "days": [1, 2]})),
            ])
            .with_usage(Usage::new(40, 22)),
        ),
    ]
}

#[tokio::test]
async fn every_backend_returns_the_same_replies_whole_and_streamed() {
    for backend in backends() {
        for (scenario, reply) in replies() {
            comes_back_as_it_went(backend, reply, scenario).await;
        }
    }
}

/// `reply`, served by `backend`'s model, comes back the same whole and streamed (call ids
/// blanked where the wire has none).
async fn comes_back_as_it_went(backend: &dyn Backend, reply: ChatResponse, scenario: &str) {
    let model = backend.replying(vec![reply.clone(), reply.clone()]).await;
    let request = ChatRequest::user("?").with_tools([weather()]);
    let whole = model.chat(request.clone()).await.unwrap();
    let streamed = collect_stream(model.stream(request).await.unwrap()).await.unwrap();
    for (how, mut got) in [("whole", whole), ("streamed", streamed)] {
        // The reply's id and model are the mock server's own (each wire's tests read them).
        (got.id, got.model) = (None, None);
        let (got, expected) = if backend.mints_call_ids() {
            (minted_ids_blanked(got), without_ids(reply.clone()))
        } else {
            (got, reply.clone())
        };
        assert_eq!(got, expected, "{} / {scenario} / {how}", backend.name());
    }
}

/// Reasoning (signed where the provider signs) and the cache and reasoning token counts come
/// back from every backend as they went out, whole and streamed.
#[tokio::test]
async fn every_backend_carries_reasoning_and_cache_usage() {
    for backend in backends() {
        comes_back_as_it_went(backend, backend.reasoning_reply(), "reasoning").await;
    }
}

/// Images and documents reach the server where a backend declares it reads them, and are
/// refused with `Unsupported` where it does not: never dropped.
#[tokio::test]
async fn every_backend_sends_or_refuses_images_and_documents() {
    let png = Part::image(b"\x89PNG\r\n\x1a\n-image-bytes", "image/png");
    let pdf = Part::document(b"%PDF-1.7 document-bytes", "application/pdf");
    for backend in backends() {
        let vision: fn(&anymodel_core::Capabilities) -> bool = |c| c.vision;
        let documents: fn(&anymodel_core::Capabilities) -> bool = |c| c.documents;
        for (part, can) in [(png.clone(), vision), (pdf.clone(), documents)] {
            let model = backend.replying(vec![ChatResponse::text("A picture.")]).await;
            let data = match part.media().map(|m| &m.source) {
                Some(anymodel_core::MediaSource::Base64(data)) => data.clone(),
                _ => unreachable!(),
            };
            let request = ChatRequest::user(Content::from("What is it?").with(part));
            let outcome = model.chat(request).await;
            if can(&model.capabilities()) {
                assert_eq!(outcome.unwrap().message.content, "A picture.", "{}", backend.name());
                if let Some(server) = &model._server {
                    let sent = String::from_utf8(
                        server.received_requests().await.unwrap()[0].body.clone(),
                    )
                    .unwrap();
                    assert!(sent.contains(&data), "{}: {sent}", backend.name());
                }
            } else {
                assert!(
                    matches!(outcome, Err(Error::Unsupported { .. })),
                    "{}: {outcome:?}",
                    backend.name()
                );
            }
        }
    }
}

/// A reply with its call ids blanked, once they are checked to be made up ones that differ.
fn minted_ids_blanked(reply: ChatResponse) -> ChatResponse {
    let ids: std::collections::HashSet<&str> =
        reply.message.tool_calls.iter().map(|call| call.id.as_str()).collect();
    assert_eq!(ids.len(), reply.message.tool_calls.len(), "{reply:?}");
    assert!(ids.iter().all(|id| id.starts_with("call_")), "{reply:?}");
    without_ids(reply)
}

fn without_ids(mut reply: ChatResponse) -> ChatResponse {
    reply.message.tool_calls.iter_mut().for_each(|call| call.id.clear());
    reply
}

/// An error inside a stream that began well becomes the class its provider gave it, with the
/// provider's message, on every backend (whole replies are streams too for some).
#[tokio::test]
async fn an_error_inside_a_stream_is_classed_with_the_providers_message() {
    async fn check<W: Wire>(wire: W) {
        let (body, expected) = wire.stream_with_error();
        let server =
            serve(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")).await;
        let model = wire.connect(&server);
        let events = model.stream(ChatRequest::user("?")).await;
        let error = match events {
            Ok(events) => collect_stream(events).await.unwrap_err(),
            Err(error) => error,
        };
        assert_eq!(class(&error), expected, "{}: {error}", wire.name());
        assert!(error.to_string().contains("Slow down, please"), "{}: {error}", wire.name());
    }
    check(OpenAiServer).await;
    check(AnthropicServer).await;
    check(GeminiServer).await;
    check(CohereServer).await;
}

/// The key each backend is connected with never shows in an error, however the server sends it
/// back: in an error event inside a stream, in a refusal's body (raw, or JSON-escaped), in a
/// success body that is not JSON.
#[tokio::test]
async fn no_backend_shows_its_key_in_an_error() {
    const KEY: &str = "test-key-0001";
    async fn check<W: Wire>(wire: W) {
        let (body, _) = wire.stream_with_error();
        let stream_body = body.replace("Slow down, please", &format!("Slow down, {KEY}"));
        let escaped = r#"{"error": {"message": "bad key t\u0065st-key-0001", "type": "auth"}}"#;
        let cases = [
            (true, ResponseTemplate::new(200).set_body_raw(stream_body, "text/event-stream")),
            (false, ResponseTemplate::new(401).set_body_string(format!("invalid key {KEY}"))),
            (false, ResponseTemplate::new(401).set_body_raw(escaped, "application/json")),
            (false, ResponseTemplate::new(200).set_body_string(format!("<html>{KEY}</html>"))),
        ];
        for (streamed, response) in cases {
            let server = serve(response).await;
            let model = wire.connect(&server);
            let error = if streamed {
                match model.stream(ChatRequest::user("?")).await {
                    Ok(events) => collect_stream(events).await.unwrap_err(),
                    Err(error) => error,
                }
            } else {
                model.chat(ChatRequest::user("?")).await.unwrap_err()
            };
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(KEY), "{}: {shown}", wire.name());
            assert!(shown.contains("<redacted>"), "{}: {shown}", wire.name());
        }
    }
    check(OpenAiServer).await;
    check(AnthropicServer).await;
    check(GeminiServer).await;
    check(CohereServer).await;
}

/// A server that floods one event, or sends a big one that is not JSON: a quick, short error
/// (the parser's cost grows with the square of a line, and the event would be quoted whole).
#[tokio::test]
async fn oversize_and_malformed_events_end_the_stream_with_a_short_error() {
    async fn check<W: Wire>(wire: W) {
        let flood = format!("data: {}\n\n", "x".repeat(16 * 1024 * 1024));
        let bad = format!("data: {{\"a\": \"{}\n\n", "y".repeat(1024 * 1024));
        for body in [flood, bad] {
            let server =
                serve(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")).await;
            let started = std::time::Instant::now();
            let error = match wire.connect(&server).stream(ChatRequest::user("?")).await {
                Ok(events) => collect_stream(events).await.unwrap_err(),
                Err(error) => error,
            };
            assert_eq!(class(&error), "InvalidResponse", "{}: {error}", wire.name());
            assert!(
                error.to_string().len() < 2000,
                "{}: {} bytes",
                wire.name(),
                error.to_string().len()
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{}", wire.name());
        }
    }
    check(OpenAiServer).await;
    check(AnthropicServer).await;
    check(GeminiServer).await;
    check(CohereServer).await;
}

fn class(error: &Error) -> String {
    format!("{error:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn every_backend_reports_failures_in_the_same_class() {
    for backend in backends() {
        for failure in Failure::ALL {
            let expected = failure.error(backend);
            let model = backend.failing(failure).await;
            let err = model.chat(ChatRequest::user("?")).await.unwrap_err();
            assert_eq!(class(&err), class(&expected), "{} / {failure:?}: {err}", backend.name());
            assert_eq!(
                err.retry_after(),
                expected.retry_after(),
                "{} / {failure:?}",
                backend.name()
            );
            assert_eq!(err.is_retryable(), expected.is_retryable());
            assert!(
                err.to_string().contains(failure.message(backend)),
                "{} / {failure:?}: {err}",
                backend.name()
            );
        }
    }
}

/// Asks `model` for JSON Schema output: it must answer when it declares the capability, and
/// refuse with `Unsupported` when it does not.
async fn check_declared_capabilities(name: &str, model: &dyn Model) {
    let request = ChatRequest::user("?")
        .with_response_format(ResponseFormat::JsonSchema {
            name: "x".into(),
            schema: json!({"type": "object"}),
            strict: false,
        })
        .with_sampling(Sampling { max_tokens: Some(16), ..Default::default() });
    let outcome = model.chat(request).await;
    if model.capabilities().json_schema_output {
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    } else {
        assert!(matches!(outcome, Err(Error::Unsupported { .. })), "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn every_backend_refuses_what_it_declares_it_cannot_do() {
    for backend in backends() {
        let model = backend.replying(vec![ChatResponse::text("{}")]).await;
        check_declared_capabilities(backend.name(), &**model).await;
    }
}

/// The local backend, where the scenarios make sense: it cannot replay scripted replies, but it
/// must declare what it can do as truly as the others, and give the same reply whole and
/// streamed (greedy decoding is deterministic).
#[tokio::test]
async fn the_local_backend_keeps_the_same_contract() {
    let path =
        std::env::temp_dir().join(format!("anymodel-conformance-{}.gguf", std::process::id()));
    let hello = support::llama3::token_id("Hello");
    support::llama3::tiny_llama(
        &path,
        hello,
        &[],
        Some(anymodel_backends::candle::LLAMA3_TEMPLATE),
    );
    let model = anymodel_backends::candle::LocalModel::load(
        anymodel_backends::candle::LocalConfig::new(&path),
    )
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    check_declared_capabilities("local", &model).await;
    let request = ChatRequest::user("Hi").with_sampling(anymodel_core::Sampling {
        temperature: Some(0.0),
        max_tokens: Some(5),
        ..Default::default()
    });
    let whole = model.chat(request.clone()).await.unwrap();
    let streamed = collect_stream(model.stream(request).await.unwrap()).await.unwrap();
    assert_eq!(
        (&whole.message, &whole.finish_reason),
        (&streamed.message, &streamed.finish_reason)
    );
    // The second call found the prompt in the cache, all but its last token (which always
    // runs, for its logits): reported as cached input, as providers report theirs.
    let input = whole.usage.input_tokens;
    assert_eq!(streamed.usage, whole.usage.with_cached_input(input - 1));
    assert_eq!(whole.message.content, "HelloHelloHelloHelloHello");
    assert_eq!(whole.finish_reason, FinishReason::Length);
}

#[derive(Deserialize, schemars::JsonSchema)]
struct WeatherArgs {
    /// The city.
    city: String,
}

struct Weather;

#[async_trait]
impl TypedTool for Weather {
    const NAME: &'static str = "weather";
    const DESCRIPTION: &'static str = "The weather in a city.";
    type Args = WeatherArgs;
    type Output = String;

    async fn run(&self, args: WeatherArgs) -> Result<String, ToolError> {
        Ok(format!("18C in {}", args.city))
    }
}

#[tokio::test]
async fn the_same_agent_runs_alike_on_every_backend() {
    // Gemini sends no call ids: each backend's transcript is the same but for the ids.
    let script = vec![
        ChatResponse::tool_calls(vec![ToolCall::new("call_0", "weather", json!({"city": "Nice"}))])
            .with_usage(Usage::new(50, 10)),
        ChatResponse::text("It is 18C in Nice.").with_usage(Usage::new(70, 8)),
    ];
    let mut transcripts = Vec::new();
    for backend in backends() {
        for streamed in [false, true] {
            let model = backend.replying(script.clone()).await;
            let agent = Agent::builder(model.model.clone())
                .system("Use tools.")
                .tool(Weather)
                .build()
                .unwrap();
            let run = if streamed {
                use futures::StreamExt;
                let events: Vec<_> = agent.run_stream("Weather in Nice?").collect().await;
                match events.into_iter().last().unwrap().unwrap() {
                    anymodel_core::AgentEvent::Finished { run } => run,
                    other => panic!("{other:?}"),
                }
            } else {
                agent.run("Weather in Nice?").await.unwrap()
            };
            assert_eq!(run.answer, "It is 18C in Nice.", "{}", backend.name());
            assert_eq!(run.usage, Usage::new(120, 18), "{}", backend.name());
            transcripts.push(without_call_ids(run.transcript));
        }
    }
    assert!(transcripts.windows(2).all(|pair| pair[0] == pair[1]));
}

/// A transcript with its tool calls' ids (and the results' references to them) blanked out.
fn without_call_ids(mut transcript: Vec<Message>) -> Vec<Message> {
    for message in &mut transcript {
        match message {
            Message::Assistant(reply) => {
                reply.tool_calls.iter_mut().for_each(|call| call.id.clear());
            }
            Message::Tool(result) => result.tool_call_id.clear(),
            _ => {}
        }
    }
    transcript
}
