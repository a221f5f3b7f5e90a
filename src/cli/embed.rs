//! `anymodel embed`: texts to vectors with an embedding model, printed as JSON.

use std::sync::Arc;

use anymodel::{Embedder, InputKind};

use super::output::{self, outln};
use super::{Context, Failure, Outcome};

/// The arguments of `embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// The texts (each one vector). Default: the lines of standard input.
    pub texts: Vec<String>,
    /// The embedding model: a configured [embedders.NAME], or a model folder in the
    /// sentence-transformers layout (or its name in the models folder). Default:
    /// all-MiniLM-L6-v2, fetched by scripts/fetch-model.sh.
    #[arg(short, long, value_name = "NAME|FOLDER")]
    pub embedder: Option<String>,
    /// Embed the texts as queries rather than documents (for models that tell them apart).
    #[arg(long)]
    pub query: bool,
}

/// The embedder a command names with `-e` (a configured `[embedders.NAME]` or a model folder),
/// else the default one; an error says how to fetch it.
pub fn load_embedder(context: &Context, named: Option<&str>) -> Result<Arc<dyn Embedder>, Failure> {
    let spinner =
        output::spinner(context.quiet, format!("loading {}", named.unwrap_or("the embedder")));
    let embedder = context.config.build_embedder(named);
    spinner.finish_and_clear();
    Ok(embedder?)
}

/// Runs `embed`.
pub async fn embed(context: &Context, args: EmbedArgs) -> Outcome {
    let texts = if args.texts.is_empty() {
        let mut input = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin(), 16 << 20),
            &mut input,
        )
        .map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
        input.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
    } else {
        args.texts
    };
    if texts.is_empty() {
        return Err(Failure::Usage(
            "no texts: give them as arguments or lines on standard input".into(),
        ));
    }
    let embedder = load_embedder(context, args.embedder.as_deref())?;
    let kind = if args.query { InputKind::Query } else { InputKind::Document };
    let vectors = embedder.embed(&texts, kind).await?;
    outln!("{}", serde_json::to_string(&vectors).unwrap_or_default());
    Ok(())
}
