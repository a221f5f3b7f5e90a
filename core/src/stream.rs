//! Streamed replies: the events a model emits while it generates, and the one aggregator that
//! turns them back into a whole [`ChatResponse`], so no backend writes that twice.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::message::{AssistantMessage, Reasoning, ToolCall};
use crate::response::{ChatResponse, FinishReason, Usage};

/// A stream of [`StreamEvent`]s, as [`crate::Model::stream`] returns it.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent>> + Send>>;

/// One increment of a streamed reply.
///
/// Tool calls are keyed by `index` (their position in the reply): a `ToolCallStart` carries the
/// call's id and name, then `ToolCallDelta`s carry fragments of its JSON arguments, and an
/// optional `ToolCallEnd` says the arguments are complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamEvent {
    /// More of the model's reasoning, before its answer: shown apart from the answer (dimmed,
    /// or not at all), kept in the reply's [`AssistantMessage::reasoning`].
    ReasoningDelta {
        /// The new reasoning text.
        text: String,
    },
    /// The current block of reasoning is complete; what the provider needs to take it back
    /// comes with it. A block of opaque reasoning alone (Anthropic's redacted thinking) is an
    /// end without deltas before it.
    ReasoningEnd {
        /// The provider's signature over the block's text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        /// Reasoning in a form only the provider reads.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redacted: Option<String>,
        /// The wire that made the signature or opaque form.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
    },
    /// More text of the reply.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A tool call begins.
    ToolCallStart {
        /// Its position among the reply's tool calls.
        index: usize,
        /// The id its result must answer.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallDelta {
        /// The position of the call it belongs to.
        index: usize,
        /// The fragment, to append to those before it.
        arguments: String,
    },
    /// A tool call's arguments are complete.
    ToolCallEnd {
        /// The position of the call.
        index: usize,
    },
    /// Token counts so far for this reply. Each field that is non-zero replaces the one before,
    /// since providers report running totals (some input first, output at the end).
    Usage {
        /// The counts.
        usage: Usage,
    },
    /// The reply ended at this stop string (sent before `Finish`, by the backends that say).
    StopSequence {
        /// The stop string.
        text: String,
    },
    /// Which reply this is: the server's id for it and the model that makes it, as the server
    /// names them (a dated version of the model asked for, say). Sent early by the backends
    /// that know; later values of either replace earlier ones.
    Origin {
        /// The server's id of the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The model that makes it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// The reply is over.
    Finish {
        /// Why the model stopped.
        reason: FinishReason,
    },
}

impl StreamEvent {
    /// The start, the whole arguments and the end of one complete tool call at `index`: for
    /// backends that know a call only once it is whole. Arguments kept as text (they never
    /// parsed) go out as that text.
    pub fn for_tool_call(index: usize, call: ToolCall) -> [StreamEvent; 3] {
        let arguments = match call.arguments {
            Value::String(raw) => raw,
            json => json.to_string(),
        };
        [
            StreamEvent::ToolCallStart { index, id: call.id, name: call.name },
            StreamEvent::ToolCallDelta { index, arguments },
            StreamEvent::ToolCallEnd { index },
        ]
    }
}

impl ChatResponse {
    /// The events a stream of this reply would carry: for backends that cannot stream, and for
    /// replaying a saved reply.
    pub fn into_events(self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if self.id.is_some() || self.model.is_some() {
            events.push(StreamEvent::Origin { id: self.id, model: self.model });
        }
        for block in self.message.reasoning {
            if !block.text.is_empty() {
                events.push(StreamEvent::ReasoningDelta { text: block.text });
            }
            events.push(StreamEvent::ReasoningEnd {
                signature: block.signature,
                redacted: block.redacted,
                provider: block.provider,
            });
        }
        if !self.message.content.is_empty() {
            events.push(StreamEvent::TextDelta { text: self.message.content });
        }
        for (index, call) in self.message.tool_calls.into_iter().enumerate() {
            events.extend(StreamEvent::for_tool_call(index, call));
        }
        events.push(StreamEvent::Usage { usage: self.usage });
        if let Some(text) = self.stop_sequence {
            events.push(StreamEvent::StopSequence { text });
        }
        events.push(StreamEvent::Finish { reason: self.finish_reason });
        events
    }
}

/// Rebuilds a whole reply from stream events.
///
/// Feed every event to [`ReplyAggregator::push`], then call [`ReplyAggregator::finish`]. A stream
/// that ends without a `Finish` event gets [`FinishReason::ToolCalls`] when it holds tool calls
/// and [`FinishReason::Stop`] otherwise.
#[derive(Debug, Default)]
pub struct ReplyAggregator {
    reasoning: Vec<Reasoning>,
    /// The reasoning block still open (text arrived, no end yet).
    open_reasoning: Option<String>,
    text: String,
    calls: BTreeMap<usize, PartialCall>,
    usage: Usage,
    stop_sequence: Option<String>,
    finish_reason: Option<FinishReason>,
    id: Option<String>,
    model: Option<String>,
}

#[derive(Debug)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

impl ReplyAggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in one event. Fails on events that contradict the stream so far: argument fragments
    /// for a call that never started, or a call index started twice with different ids.
    pub fn push(&mut self, event: StreamEvent) -> Result<()> {
        match event {
            StreamEvent::ReasoningDelta { text } => {
                self.open_reasoning.get_or_insert_with(String::new).push_str(&text);
            }
            StreamEvent::ReasoningEnd { signature, redacted, provider } => {
                let text = self.open_reasoning.take().unwrap_or_default();
                self.reasoning.push(Reasoning { text, signature, redacted, provider });
            }
            StreamEvent::TextDelta { text } => self.text.push_str(&text),
            StreamEvent::ToolCallStart { index, id, name } => match self.calls.get(&index) {
                Some(call) if call.id != id => {
                    return Err(Error::invalid_response(format!(
                        "tool call {index} started twice, as `{}` and as `{id}`",
                        call.id
                    )));
                }
                Some(_) => {}
                None => {
                    self.calls.insert(index, PartialCall { id, name, arguments: String::new() });
                }
            },
            StreamEvent::ToolCallDelta { index, arguments } => {
                let call = self.calls.get_mut(&index).ok_or_else(|| {
                    Error::invalid_response(format!(
                        "arguments for tool call {index} arrived before the call started"
                    ))
                })?;
                call.arguments.push_str(&arguments);
            }
            StreamEvent::ToolCallEnd { index } => {
                if !self.calls.contains_key(&index) {
                    return Err(Error::invalid_response(format!(
                        "tool call {index} ended without having started"
                    )));
                }
            }
            StreamEvent::Usage { usage } => self.usage = self.usage.updated_by(usage),
            StreamEvent::StopSequence { text } => self.stop_sequence = Some(text),
            StreamEvent::Origin { id, model } => {
                self.id = id.or(self.id.take());
                self.model = model.or(self.model.take());
            }
            StreamEvent::Finish { reason } => self.finish_reason = Some(reason),
        }
        Ok(())
    }

    /// The whole reply. Each call's arguments are parsed as JSON; empty arguments become `{}`,
    /// and text that is not JSON is kept as a JSON string so the model can be told of it.
    pub fn finish(mut self) -> ChatResponse {
        if let Some(text) = self.open_reasoning.take() {
            self.reasoning.push(Reasoning::text(text));
        }
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_values()
            .map(|call| ToolCall {
                arguments: ToolCall::arguments_from_text(call.arguments),
                id: call.id,
                name: call.name,
            })
            .collect();
        let finish_reason = self.finish_reason.unwrap_or(if tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
        ChatResponse {
            message: AssistantMessage { reasoning: self.reasoning, content: self.text, tool_calls },
            finish_reason,
            usage: self.usage,
            stop_sequence: self.stop_sequence,
            id: self.id,
            model: self.model,
        }
    }
}

/// Drains a stream into a whole reply; the first error in the stream is returned.
pub async fn collect_stream(mut stream: EventStream) -> Result<ChatResponse> {
    let mut aggregator = ReplyAggregator::new();
    while let Some(event) = stream.next().await {
        aggregator.push(event?)?;
    }
    Ok(aggregator.finish())
}

/// `events` passed on unchanged, their reply gathered and handed to `done` once: when the
/// stream ends, when it fails (the error), or when it is dropped before its end
/// ([`Error::Cancelled`]: a reader that went away). What records of streamed calls (a run log,
/// a span) are made from.
pub fn observe_reply(
    events: EventStream,
    done: impl FnOnce(std::result::Result<&ChatResponse, &Error>) + Send + 'static,
) -> EventStream {
    Box::pin(Observed { events, aggregator: ReplyAggregator::new(), done: Some(Box::new(done)) })
}

/// The callback of [`observe_reply`], until it is called.
type Done = Box<dyn FnOnce(std::result::Result<&ChatResponse, &Error>) + Send>;

struct Observed {
    events: EventStream,
    aggregator: ReplyAggregator,
    done: Option<Done>,
}

impl Observed {
    fn end(&mut self, outcome: std::result::Result<&ChatResponse, &Error>) {
        if let Some(done) = self.done.take() {
            done(outcome);
        }
    }
}

impl Stream for Observed {
    type Item = Result<StreamEvent>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let polled = self.events.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(event))) => {
                if let Err(error) = self.aggregator.push(event.clone()) {
                    self.end(Err(&error));
                }
            }
            Poll::Ready(Some(Err(error))) => self.end(Err(error)),
            Poll::Ready(None) => {
                let reply = std::mem::take(&mut self.aggregator).finish();
                self.end(Ok(&reply));
            }
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.end(Err(&Error::Cancelled));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn an_observed_stream_reports_its_reply_its_error_or_its_drop_once() {
        use std::sync::{Arc, Mutex};
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let observe = |events: Vec<Result<StreamEvent>>| {
            let seen = seen.clone();
            observe_reply(Box::pin(futures::stream::iter(events)), move |outcome| {
                let said = match outcome {
                    Ok(reply) => reply.message.content.clone(),
                    Err(error) => error.class().to_string(),
                };
                seen.lock().unwrap().push(said);
            })
        };
        let text = |t: &str| Ok(StreamEvent::TextDelta { text: t.into() });
        let whole: Vec<_> = observe(vec![text("Hi"), text(" there")]).collect().await;
        assert_eq!(whole.len(), 2, "passed on unchanged");
        let failed = Err(Error::Transient { message: "cut".into(), retry_after: None });
        let _: Vec<_> = observe(vec![text("Hi"), failed]).collect().await;
        let mut dropped = observe(vec![text("Hi"), text("!")]);
        let _ = dropped.next().await;
        drop(dropped);
        assert_eq!(*seen.lock().unwrap(), ["Hi there", "transient", "cancelled"]);
    }

    fn aggregate(events: Vec<StreamEvent>) -> Result<ChatResponse> {
        let mut aggregator = ReplyAggregator::new();
        for event in events {
            aggregator.push(event)?;
        }
        Ok(aggregator.finish())
    }

    #[test]
    fn rebuilds_tool_calls_whose_arguments_arrive_in_fragments() {
        let delta = |index, arguments: &str| StreamEvent::ToolCallDelta {
            index,
            arguments: arguments.into(),
        };
        let reply = aggregate(vec![
            StreamEvent::TextDelta { text: "Checking ".into() },
            StreamEvent::TextDelta { text: "both.".into() },
            StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "weather".into() },
            delta(0, "{\"ci"),
            StreamEvent::ToolCallStart { index: 1, id: "b".into(), name: "time".into() },
            delta(1, "{\"zone\": \"Europe/"),
            delta(0, "ty\": \"Par"),
            delta(1, "Paris\"}"),
            delta(0, "is\", \"days\": 3}"),
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::ToolCallEnd { index: 1 },
            StreamEvent::Usage { usage: Usage::new(40, 0) },
            StreamEvent::Usage { usage: Usage::new(0, 12) },
            StreamEvent::Finish { reason: FinishReason::ToolCalls },
        ])
        .unwrap();
        assert_eq!(reply.message.content, "Checking both.");
        assert_eq!(
            reply.message.tool_calls,
            vec![
                ToolCall::new("a", "weather", json!({"city": "Paris", "days": 3})),
                ToolCall::new("b", "time", json!({"zone": "Europe/Paris"})),
            ]
        );
        assert_eq!(reply.usage, Usage::new(40, 12));
        assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn empty_arguments_are_an_empty_object_and_broken_ones_are_kept_as_text() {
        let reply = aggregate(vec![
            StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "clock".into() },
            StreamEvent::ToolCallStart { index: 1, id: "b".into(), name: "weather".into() },
            StreamEvent::ToolCallDelta { index: 1, arguments: "{\"city\": ".into() },
        ])
        .unwrap();
        assert_eq!(reply.message.tool_calls[0].arguments, json!({}));
        assert_eq!(reply.message.tool_calls[1].arguments, json!("{\"city\": "));
        assert_eq!(reply.finish_reason, FinishReason::ToolCalls, "inferred from the calls");
    }

    #[test]
    fn a_repeated_start_with_the_same_id_is_harmless() {
        let start = StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "clock".into() };
        let reply = aggregate(vec![start.clone(), start]).unwrap();
        assert_eq!(reply.message.tool_calls.len(), 1);
    }

    #[test]
    fn contradictory_streams_are_invalid_responses() {
        let orphan =
            aggregate(vec![StreamEvent::ToolCallDelta { index: 3, arguments: "{}".into() }]);
        assert!(matches!(orphan, Err(Error::InvalidResponse { .. })), "{orphan:?}");
        let twice = aggregate(vec![
            StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "x".into() },
            StreamEvent::ToolCallStart { index: 0, id: "b".into(), name: "x".into() },
        ]);
        assert!(matches!(twice, Err(Error::InvalidResponse { .. })), "{twice:?}");
    }

    #[test]
    fn a_whole_tool_call_is_three_events_at_its_index() {
        let events = StreamEvent::for_tool_call(2, ToolCall::new("a", "search", json!({"q": 1})));
        assert_eq!(
            events,
            [
                StreamEvent::ToolCallStart { index: 2, id: "a".into(), name: "search".into() },
                StreamEvent::ToolCallDelta { index: 2, arguments: "{\"q\":1}".into() },
                StreamEvent::ToolCallEnd { index: 2 },
            ]
        );
    }

    #[test]
    fn a_reply_survives_the_trip_through_events() {
        let reply = ChatResponse {
            message: AssistantMessage {
                reasoning: vec![
                    Reasoning {
                        text: "Oslo, then.".into(),
                        signature: Some("sig".into()),
                        provider: Some("anthropic".into()),
                        ..Default::default()
                    },
                    Reasoning { redacted: Some("opaque".into()), ..Default::default() },
                ],
                content: "On it.".into(),
                tool_calls: vec![
                    ToolCall::new("a", "weather", json!({"city": "Oslo"})),
                    ToolCall::new("b", "weather", json!("not json")),
                ],
            },
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::new(9, 4).with_cached_input(8).with_reasoning(2),
            stop_sequence: None,
            id: Some("chatcmpl-1".into()),
            model: Some("weather-model-2026-12-01".into()),
        };
        assert_eq!(aggregate(reply.clone().into_events()).unwrap(), reply);
    }

    #[test]
    fn the_stop_string_that_ended_a_reply_survives_the_trip_through_events() {
        let reply =
            ChatResponse { stop_sequence: Some("END".into()), ..ChatResponse::text("Done") };
        assert_eq!(aggregate(reply.clone().into_events()).unwrap(), reply);
    }

    #[test]
    fn reasoning_deltas_gather_into_blocks_apart_from_the_answer() {
        let think = |text: &str| StreamEvent::ReasoningDelta { text: text.into() };
        let reply = aggregate(vec![
            think("Let me "),
            think("think."),
            StreamEvent::ReasoningEnd {
                signature: Some("s1".into()),
                redacted: None,
                provider: Some("anthropic".into()),
            },
            think("Unsigned, never closed."),
            StreamEvent::TextDelta { text: "Answer.".into() },
        ])
        .unwrap();
        assert_eq!(reply.message.content, "Answer.");
        assert_eq!(reply.message.reasoning.len(), 2);
        assert_eq!(reply.message.reasoning[0].text, "Let me think.");
        assert_eq!(reply.message.reasoning[0].signature.as_deref(), Some("s1"));
        assert_eq!(reply.message.reasoning[1], Reasoning::text("Unsigned, never closed."));
    }
}
