//! `anymodel serve`: configured models behind the OpenAI API on HTTP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anymodel::TracedModel;
use anymodel::config::Resolved;
use anymodel::runlog::LoggedModel;
use anymodel::server::{QueueLimits, Server};

use super::logged;
use super::setup::load_model;
use super::{Context, Failure, Outcome, output};

/// The arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on. Anything but loopback needs an API key (or
    /// --allow-unauthenticated).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The port.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The models to serve, by configured or inline name, comma-separated (default: the default
    /// model). A request's `model` field picks one.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub models: Vec<String>,
    /// Configured agents to serve, comma-separated, each as the model `agent:NAME`: the agent
    /// runs server-side with its tools and index, and the client gets its answer.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub agents: Vec<String>,
    /// Embedders to serve at POST /v1/embeddings, comma-separated: configured [embedders.NAME]
    /// or model folders, each under the name given.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub embedders: Vec<String>,
    /// A key clients must send (`Authorization: Bearer KEY`); repeatable. Also read from
    /// $ANYMODEL_SERVER_KEY.
    #[arg(long = "api-key", value_name = "KEY")]
    pub api_keys: Vec<String>,
    /// The longest one request may take, in seconds, from its turn to its reply's end.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub request_timeout: u64,
    /// Listen on a non-loopback address without any key: anyone who can reach it can use the
    /// models (and spend their providers' credit).
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Leave the calls out of the run log (each is logged as a run of its own by default).
    #[arg(long)]
    pub no_log: bool,
}

/// Runs `serve` until interrupted.
pub async fn serve(context: &Context, args: ServeArgs) -> Outcome {
    let mut keys = args.api_keys.clone();
    keys.extend(std::env::var("ANYMODEL_SERVER_KEY").ok().filter(|k| !k.is_empty()));
    if !args.host.is_loopback() && keys.is_empty() && !args.allow_unauthenticated {
        return Err(Failure::Usage(format!(
            "listening on {} without an API key would let anyone who reaches it use the models: add --api-key KEY (or set ANYMODEL_SERVER_KEY), or --allow-unauthenticated",
            args.host
        )));
    }
    let names = if args.models.is_empty() && !(args.agents.is_empty() && args.embedders.is_empty())
    {
        Vec::new()
    } else if args.models.is_empty() {
        vec![context.config.model_name(None)?]
    } else {
        args.models.clone()
    };
    let mut server =
        Server::new().request_timeout(std::time::Duration::from_secs(args.request_timeout.max(1)));
    // A local model generates one reply at a time: its requests (and those of the agents that
    // run on it) wait their turn in a queue.
    let is_local = |name: &str| matches!(context.config.resolve(name), Ok(Resolved::Single(spec)) if spec.backend() == "candle");
    let log = if args.no_log { None } else { logged::for_server(context) };
    let serve = |server: Server, name: String, model: Arc<dyn anymodel::Model>, local: bool| {
        let model: Arc<dyn anymodel::Model> = match &log {
            Some(log) => Arc::new(LoggedModel::new(model, log.clone(), name.clone())),
            None => model,
        };
        if local {
            server.queued_model(name, model, QueueLimits::default())
        } else {
            server.model(name, model)
        }
    };
    for name in &names {
        // Each call a `chat` span (agents served below make their own).
        let model = Arc::new(TracedModel::new(load_model(context, name).await?));
        server = serve(server, name.clone(), model, is_local(name));
    }
    let mut served = names.clone();
    for name in &args.agents {
        let agent = context.config.build_agent(name).await?;
        let on_local = context
            .config
            .agent(name)
            .and_then(|entry| context.config.model_name(Some(entry)).ok())
            .is_some_and(|model| is_local(&model));
        let as_model = format!("agent:{name}");
        let model = Arc::new(agent.into_model(as_model.clone()));
        server = serve(server, as_model.clone(), model, on_local);
        served.push(as_model);
    }
    for name in &args.embedders {
        let embedder = super::embed::load_embedder(context, Some(name))?;
        server = server.embedder(name.clone(), embedder);
        served.push(name.clone());
    }
    for key in keys {
        server = server.api_key(key);
    }
    let address = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        Failure::Usage(format!("cannot listen on {address}: {e} (pick another --port)"))
    })?;
    let bound = listener.local_addr().unwrap_or(address);
    output::activity(
        context.quiet,
        format!(
            "serving {} at http://{bound}/v1 (OpenAI Chat Completions and Responses, Anthropic Messages)",
            served.join(", ")
        ),
    );
    if let Some(log) = &log {
        output::activity(context.quiet, format!("each call is logged in {}", log.path().display()));
    }
    tokio::select! {
        served = server.serve(listener) => served.map_err(|e| Failure::Run(format!("the server stopped: {e}"))),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
