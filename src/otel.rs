//! OpenTelemetry export (feature `otel`): the agent loop's GenAI spans — `invoke_agent`,
//! `chat {model}` and `execute_tool {tool}`, made by [`Agent`](crate::Agent) runs as `tracing`
//! spans — sent over OTLP/HTTP with protobuf bodies to the collector the standard variables
//! name: `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` added) or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as it is), with `OTEL_EXPORTER_OTLP_HEADERS` and
//! `OTEL_SERVICE_NAME` honoured. Spans are batched and sent from a thread of the exporter's
//! own, so a run never waits on the collector.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! let telemetry = anymodel::otel::Telemetry::start("my-app")?;
//! tracing_subscriber::registry().with(telemetry.layer()).init();
//! // ... run agents ...
//! telemetry.shutdown(); // sends what is still pending
//! # Ok::<(), anymodel::otel::TelemetryError>(())
//! ```

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of the agent loop's GenAI spans: what [`Telemetry::layer`] exports.
pub const TARGET: &str = "anymodel::genai";

/// The conventions' attributes typed as string arrays, which `tracing` fields carry as one
/// string.
const ARRAY_ATTRIBUTES: [&str; 1] = ["gen_ai.response.finish_reasons"];

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry export: {0} (check OTEL_EXPORTER_OTLP_ENDPOINT)")]
pub struct TelemetryError(String);

/// A running exporter. Dropping it (or [`Telemetry::shutdown`]) sends the spans still
/// pending, waiting at most five seconds for the collector.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Whether the environment names a collector to send spans to.
    pub fn configured() -> bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
            .iter()
            .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
    }

    /// Starts an exporter to the collector the environment names, reporting as `service`
    /// unless `OTEL_SERVICE_NAME` says otherwise. Call it outside an async runtime's threads:
    /// its HTTP client is a blocking one, on its own thread.
    pub fn start(service: &str) -> Result<Telemetry, TelemetryError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|error| TelemetryError(error.to_string()))?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(service.to_string());
        }
        let batches = BatchSpanProcessor::builder(exporter).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(ArrayAttributes(batches))
            .with_resource(resource.build())
            .build();
        Ok(Telemetry { provider })
    }

    /// The `tracing` layer that turns the GenAI spans ([`TARGET`]) into OpenTelemetry spans
    /// for this exporter; other spans and events are left to the subscriber's other layers.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let tracer = self.provider.tracer("anymodel");
        let spans = Targets::new().with_target(TARGET, tracing::Level::INFO);
        tracing_opentelemetry::layer().with_tracer(tracer).with_filter(spans)
    }

    /// Sends the spans still pending and stops.
    pub fn shutdown(self) {
        // Dropping does it.
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown_with_timeout(Duration::from_secs(5)) {
            tracing::warn!(%error, "OpenTelemetry export: spans may have been lost");
        }
    }
}

/// Before `P` exports a span: the attributes the conventions type as string arrays made
/// arrays.
#[derive(Debug)]
struct ArrayAttributes<P>(P);

impl<P: SpanProcessor> SpanProcessor for ArrayAttributes<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        for attribute in &mut span.attributes {
            if !ARRAY_ATTRIBUTES.contains(&attribute.key.as_str()) {
                continue;
            }
            if let Value::String(text) = &attribute.value {
                let items = vec![StringValue::from(text.as_str().to_string())];
                *attribute =
                    KeyValue::new(attribute.key.clone(), Value::Array(Array::String(items)));
            }
        }
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
