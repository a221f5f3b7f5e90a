//! Every remote backend against a server that misbehaves on purpose: refusals with any status,
//! resets, cuts, stalls, trickles, floods, oversize and malformed events, for whole and
//! streamed replies. Each must end, in bounded time, in a typed error of the right class that
//! does not show the key, never in a panic, a hang or a partial reply taken for a whole one.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::cohere::{Cohere, CohereConfig};
use anymodel_backends::gemini::{Gemini, GeminiConfig};
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{ChatRequest, Error, Model, Sampling, collect_stream};
use serde_json::json;
use support::KEY;
use support::faults::{EVENTS, Fault, JSON, faulty_server};

/// The silence limit every model here runs with.
const SILENCE: Duration = Duration::from_secs(1);
/// The deadline every model here runs with.
const DEADLINE: Duration = Duration::from_secs(3);
/// Longer than any case may take: a case still going then is a hang.
const HANG: Duration = Duration::from_secs(20);

/// A provider under test: how to reach it, and one piece of reply text in its stream format.
struct Provider {
    name: &'static str,
    connect: fn(&str) -> Arc<dyn Model>,
    text_event: fn(&str) -> String,
}

fn tuned<C: RemoteConfig>(config: C, url: &str) -> C {
    config.base_url(url).api_key(Secret::new(KEY)).timeout(SILENCE).deadline(DEADLINE)
}

const PROVIDERS: [Provider; 4] = [
    Provider {
        name: "openai",
        connect: |url| Arc::new(OpenAi::new(tuned(OpenAiConfig::new("m"), url)).unwrap()),
        text_event: |text| {
            let chunk = json!({"choices": [{"index": 0, "delta": {"content": text}}]});
            format!("data: {chunk}\n\n")
        },
    },
    Provider {
        name: "anthropic",
        connect: |url| Arc::new(Anthropic::new(tuned(AnthropicConfig::new("m"), url)).unwrap()),
        text_event: |text| {
            let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}});
            format!("event: content_block_delta\ndata: {delta}\n\n")
        },
    },
    Provider {
        name: "gemini",
        connect: |url| Arc::new(Gemini::new(tuned(GeminiConfig::new("m"), url)).unwrap()),
        text_event: |text| {
            let chunk =
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]});
            format!("data: {chunk}\n\n")
        },
    },
    Provider {
        name: "cohere",
        connect: |url| Arc::new(Cohere::new(tuned(CohereConfig::new("m"), url)).unwrap()),
        text_event: |text| {
            let delta = json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": text}}}});
            format!("event: content-delta\ndata: {delta}\n\n")
        },
    },
];

/// Whole replies, streamed ones, or both.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Whole,
    Streamed,
}

/// The error a call to `model` ends in, however it ends; panics if it succeeds or hangs.
async fn failure(model: &dyn Model, mode: Mode) -> (Error, Duration) {
    let started = Instant::now();
    let request = ChatRequest::user("Hi")
        .with_sampling(Sampling { max_tokens: Some(10), ..Default::default() });
    let call = async {
        match mode {
            Mode::Whole => model.chat(request).await.map(|_| ()),
            Mode::Streamed => match model.stream(request).await {
                Ok(events) => collect_stream(events).await.map(|_| ()),
                Err(error) => Err(error),
            },
        }
    };
    match tokio::time::timeout(HANG, call).await {
        Ok(Ok(())) => panic!("a faulty server's reply was taken as a whole one"),
        Ok(Err(error)) => (error, started.elapsed()),
        Err(_) => panic!("still waiting after {HANG:?}"),
    }
}

/// What a case expects of the error.
type Expect = fn(&Error) -> bool;

fn retryable(error: &Error) -> bool {
    error.is_retryable()
}

fn not_retryable(error: &Error) -> bool {
    !error.is_retryable()
}

fn invalid_response(error: &Error) -> bool {
    matches!(error, Error::InvalidResponse { .. })
}

fn silent(error: &Error) -> bool {
    error.is_retryable() && error.to_string().contains("sent nothing for 1 s")
}

fn past_deadline(error: &Error) -> bool {
    !error.is_retryable() && error.to_string().contains("deadline of 3 s")
}

/// Runs `fault` against every provider in `modes`: each call must fail as `expect` says,
/// within `within`, and its error must not show the key.
async fn against_all(
    what: &str,
    fault: impl Fn(&Provider) -> Fault,
    modes: &[Mode],
    expect: Expect,
    within: Duration,
) -> usize {
    let mut cases = 0;
    for provider in &PROVIDERS {
        let url = faulty_server(fault(provider)).await;
        let model = (provider.connect)(&url);
        for &mode in modes {
            let (error, took) = failure(&*model, mode).await;
            let shown = format!("{error} {error:?}");
            let case = format!("{what}, {} {mode:?}", provider.name);
            assert!(expect(&error), "{case}: {shown}");
            assert!(!shown.contains(KEY), "{case}: the key shows in {shown}");
            assert!(shown.len() < 4096, "{case}: an error of {} bytes", shown.len());
            assert!(took < within, "{case}: took {took:?}");
            cases += 1;
        }
    }
    cases
}

const BOTH: &[Mode] = &[Mode::Whole, Mode::Streamed];
const STREAMED: &[Mode] = &[Mode::Streamed];
const WHOLE: &[Mode] = &[Mode::Whole];
const SOON: Duration = Duration::from_secs(5);

#[tokio::test]
async fn refusals_of_every_status_are_classed_and_quote_no_key() {
    let echo = json!({"error": {"message": format!("bad key {KEY}"), "type": "x"}}).to_string();
    let statuses: [(u16, String, Expect); 7] = [
        (400, echo.clone(), not_retryable),
        (401, format!("invalid key {KEY}"), |e| matches!(e, Error::Authentication { .. })),
        (403, echo.clone(), not_retryable),
        (429, String::new(), |e| matches!(e, Error::RateLimited { .. })),
        (500, echo.clone(), retryable),
        (502, format!("<html><body>Bad gateway {KEY}</body></html>"), retryable),
        (529, echo.clone(), retryable),
    ];
    let mut cases = 0;
    for (status, body, expect) in statuses {
        let what = format!("HTTP {status}");
        cases +=
            against_all(&what, |_| Fault::Status(status, body.clone()), BOTH, expect, SOON).await;
    }
    assert_eq!(cases, 56);
}

#[tokio::test]
async fn resets_closes_and_garbage_are_transient() {
    against_all("a reset", |_| Fault::Reset, BOTH, retryable, SOON).await;
    against_all("a close", |_| Fault::Close, BOTH, retryable, SOON).await;
    against_all("not HTTP", |_| Fault::Garbage, BOTH, |_| true, SOON).await;
}

#[tokio::test]
async fn a_cut_reply_is_an_error_never_a_short_answer() {
    let body = r#"{"id": "x", "choices": [{"message": {"content": "Hello"#.to_string();
    against_all("a cut body", |_| Fault::CutBody(body.clone()), WHOLE, retryable, SOON).await;
    let cut = |p: &Provider| Fault::CutAfter((p.text_event)("Hello, wor"));
    against_all("a cut stream", cut, STREAMED, |_| true, SOON).await;
}

#[tokio::test]
async fn a_silent_server_is_given_up_on_after_the_silence_limit() {
    let within = SILENCE * 3;
    against_all("silence", |_| Fault::Stall, BOTH, silent, within).await;
    let after_text =
        |p: &Provider| Fault::StallAfter { content_type: EVENTS, body: (p.text_event)("Hello") };
    against_all("silence mid-stream", after_text, STREAMED, silent, within).await;
    let keep_alive = |_: &Provider| Fault::Repeat {
        content_type: EVENTS,
        piece: ": keep-alive\n\n".into(),
        every: Duration::from_millis(50),
    };
    against_all("keep-alives alone", keep_alive, STREAMED, silent, within).await;
    // One byte each 100 ms: events never complete within the silence limit.
    let trickle = |p: &Provider| Fault::Trickle {
        content_type: EVENTS,
        body: (p.text_event)("Hello").repeat(3),
        every: Duration::from_millis(100),
    };
    against_all("a byte trickle", trickle, STREAMED, silent, within).await;
    let whole_trickle = |_: &Provider| Fault::Trickle {
        content_type: JSON,
        body: format!(r#"{{"choices": [{{"message": {{"content": "{}"}}}}]}}"#, "a".repeat(100)),
        every: Duration::from_millis(100),
    };
    let slow = |e: &Error| e.is_retryable() && e.to_string().contains("not whole after 1 s");
    against_all("a trickled body", whole_trickle, WHOLE, slow, within).await;
}

#[tokio::test]
async fn a_reply_that_never_ends_is_stopped_by_the_deadline_or_its_size() {
    // A word each 100 ms: progress, so only the deadline stops it.
    let steady = |p: &Provider| Fault::Repeat {
        content_type: EVENTS,
        piece: (p.text_event)("a"),
        every: Duration::from_millis(100),
    };
    against_all("a steady endless stream", steady, STREAMED, past_deadline, DEADLINE * 2).await;
    // A flood: cut off past what max_tokens (10) allows.
    let flood = |p: &Provider| Fault::Repeat {
        content_type: EVENTS,
        piece: (p.text_event)("more and more "),
        every: Duration::ZERO,
    };
    let cut_off = |e: &Error| e.to_string().contains("kept streaming past 2560 bytes");
    against_all("a flood of events", flood, STREAMED, cut_off, SOON).await;
    // A whole body without end: cut off at the reply size limit.
    let endless_body = |_: &Provider| Fault::Repeat {
        content_type: JSON,
        piece: "x".repeat(64 * 1024),
        every: Duration::ZERO,
    };
    let too_large = |e: &Error| e.to_string().contains("larger than 32 MiB");
    against_all("an endless body", endless_body, WHOLE, too_large, SOON).await;
}

#[tokio::test]
async fn oversize_and_malformed_events_are_invalid_responses_that_quote_little() {
    let oversize = |_: &Provider| Fault::StallAfter {
        content_type: EVENTS,
        body: format!("data: {}", "x".repeat(3 * 1024 * 1024)),
    };
    against_all("an oversize event", oversize, STREAMED, invalid_response, SOON).await;
    let malformed = |_: &Provider| Fault::CutAfter(format!("data: {{not json {KEY}\n\n"));
    against_all("a malformed event", malformed, STREAMED, invalid_response, SOON).await;
    let not_json = |_: &Provider| Fault::Status(200, format!("<html>{KEY}</html>"));
    against_all("a body that is not JSON", not_json, WHOLE, invalid_response, SOON).await;
    let long =
        |_: &Provider| Fault::CutAfter(format!("data: {{\"x\": \"{}\n\n", "y".repeat(1 << 20)));
    against_all("a long malformed event", long, STREAMED, invalid_response, SOON).await;
}
