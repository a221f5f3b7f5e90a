//! `anymodel index` (add, search, stats, rm) and `anymodel eval retrieval`.

use std::path::PathBuf;

use anymodel::tools::eval::benchmark;
use std::sync::Arc;

use anymodel::tools::index::{
    IngestOptions, IngestReport, KnowledgeIndex, SearchMode, SearchSettings,
};
use anymodel::{Embedder, Filter, RetrievalQuery};

use super::embed::load_embedder;
use super::output::outln;
use super::{Context, Failure, Outcome};

/// The index used when none is named: `[indexes.default]`, else `.anymodel/index`.
const DEFAULT_INDEX: &str = ".anymodel/index";

/// The `index` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum IndexCommand {
    /// Adds files and folders to the index, or brings them up to date (only changed files are
    /// indexed again; files gone from them are removed). Honours .gitignore.
    Add {
        /// Files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also store a vector for each chunk, for dense and hybrid search, made by this
        /// embedder: a configured [embedders.NAME] or a model folder (all-MiniLM-L6-v2 is the
        /// default model's). Only chunks whose text changed are embedded. Once an index holds
        /// vectors, later adds and searches use the embedder it records.
        #[arg(long, value_name = "NAME|FOLDER")]
        embed: Option<String>,
    },
    /// Searches the index and prints the best passages with their citations and snippets.
    Search {
        /// The query; "quoted words" must appear together.
        query: Vec<String>,
        /// How many passages.
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// Only files whose path starts with this.
        #[arg(long, value_name = "PREFIX")]
        path: Option<String>,
        /// Only chunks with this metadata (key=value, repeatable; kind=code, ext=md, ...).
        #[arg(long, value_name = "KEY=VALUE")]
        meta: Vec<String>,
        /// Print the passages as JSON.
        #[arg(long)]
        json: bool,
        /// How passages are ranked: bm25 (words), dense (the chunks' vectors) or hybrid (both,
        /// fused). Default: hybrid when the index holds vectors, else bm25.
        #[arg(long, value_parser = ["bm25", "dense", "hybrid"])]
        mode: Option<String>,
        /// The embedder to embed the query with, when the name the index recorded cannot be
        /// loaded here (a model folder moved, a configured name missing): it must be the same
        /// model.
        #[arg(long, value_name = "NAME|FOLDER")]
        embed: Option<String>,
    },
    /// Prints how many files and chunks the index holds, its vectors' embedder, and where it is.
    Stats,
    /// Removes files from the index: every file whose path starts with one of these.
    Rm {
        /// Paths (as `index search` shows them) or their prefixes.
        #[arg(required = true)]
        paths: Vec<String>,
    },
}

/// One line for the files an ingest left out: `skipped 2020 files: 1800 .png, 210 .pdf, 10
/// other (-v lists them)`.
fn skipped_summary(report: &IngestReport) -> String {
    const SHOWN: usize = 6;
    let kinds = report.skipped_by_kind();
    let mut parts: Vec<String> =
        kinds.iter().take(SHOWN).map(|(kind, count)| format!("{count} {kind}")).collect();
    let other: usize = kinds.iter().skip(SHOWN).map(|(_, count)| count).sum();
    if other > 0 {
        parts.push(format!("{other} other"));
    }
    let files = report.skipped.len();
    let noun = if files == 1 { "file" } else { "files" };
    format!("skipped {files} {noun}: {} (-v lists them)", parts.join(", "))
}

/// The index folder `--index` names (a configured name or a folder).
fn folder(context: &Context, index: Option<&str>) -> PathBuf {
    match index {
        Some(name) => context.config.index_folder(name),
        None => context.config.index("default").unwrap_or_else(|| PathBuf::from(DEFAULT_INDEX)),
    }
}

/// An embedder, with the name it was loaded by.
type Named = (Arc<dyn Embedder>, String);

/// The embedder to add to or search `index` with: the one named, else the one its vectors
/// record (loaded by the name it was given then); `None` for an index without vectors when none
/// is named.
fn embedder_for(
    context: &Context,
    index: &KnowledgeIndex,
    named: Option<&str>,
) -> Result<Option<Named>, Failure> {
    let name = match (named, index.searcher().vectors()?) {
        (Some(name), _) => name.to_string(),
        (None, Some(space)) => space.named.unwrap_or(space.embedder),
        (None, None) => return Ok(None),
    };
    Ok(Some((load_embedder(context, Some(&name))?, name)))
}

/// Runs an `index` subcommand on the index `index` names.
pub async fn index(context: &Context, index: Option<&str>, command: IndexCommand) -> Outcome {
    let folder = folder(context, index);
    match command {
        IndexCommand::Add { paths, embed } => {
            let index = KnowledgeIndex::open_or_create(&folder)?;
            let mut options = IngestOptions { progress: !context.quiet, ..Default::default() };
            let report = match embedder_for(context, &index, embed.as_deref())? {
                Some((embedder, named)) => {
                    options.embedder_named = Some(named);
                    index.ingest_embedding(&paths, &options, embedder.as_ref()).await?
                }
                None => index.ingest(&paths, &options)?,
            };
            outln!("{report}");
            if context.verbose {
                for skipped in &report.skipped {
                    super::output::activity(
                        context.quiet,
                        format!("skipped {}: {}", skipped.path.display(), skipped.reason),
                    );
                }
            } else if !report.skipped.is_empty() {
                super::output::activity(context.quiet, skipped_summary(&report));
            }
            Ok(())
        }
        IndexCommand::Search { query, k, path, meta, json, mode, embed } => {
            let index = KnowledgeIndex::open(&folder)?;
            let text = query.join(" ");
            let mut query = RetrievalQuery::new(text.clone(), k);
            if let Some(prefix) = path {
                query = query.with_filter(Filter::PathPrefix { prefix });
            }
            for pair in meta {
                let Some((key, value)) = pair.split_once('=') else {
                    return Err(Failure::Usage(format!("--meta {pair}: expected KEY=VALUE")));
                };
                query =
                    query.with_filter(Filter::Metadata { key: key.into(), value: value.into() });
            }
            let searcher = index.searcher();
            let mode = match mode.as_deref() {
                Some(word) => SearchMode::named(word).unwrap_or(SearchMode::Bm25),
                None if searcher.vectors()?.is_some() => SearchMode::hybrid(),
                None => SearchMode::Bm25,
            };
            let embedder = match mode.is_dense() {
                true => embedder_for(context, &index, embed.as_deref())?.map(|(e, _)| e),
                false => None,
            };
            let hits = searcher.search_in(&query, &mode, embedder.as_deref()).await?;
            if json {
                let passages =
                    hits.iter().map(|hit| searcher.passage(hit)).collect::<Result<Vec<_>, _>>()?;
                outln!("{}", serde_json::to_string_pretty(&passages).unwrap_or_default());
                return Ok(());
            }
            if hits.is_empty() {
                outln!("no passage matches");
            }
            for hit in &hits {
                let passage = searcher.passage(hit)?;
                let title =
                    passage.source.title.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
                outln!("{:.2} [{}]{title}", hit.score, passage.source);
                outln!(
                    "    {}",
                    searcher.snippet(&text, &passage, 160)?.to_string().replace('\n', " ")
                );
            }
            Ok(())
        }
        IndexCommand::Stats => {
            let index = KnowledgeIndex::open(&folder)?;
            let searcher = index.searcher();
            outln!(
                "{}: {} files, {} chunks",
                folder.display(),
                searcher.files()?,
                searcher.chunks()?
            );
            if let Some(space) = searcher.vectors()? {
                let named = space.named.as_deref().map(|n| format!(", loaded as {n}"));
                outln!("vectors: {space}{}", named.unwrap_or_default());
                let (graphed, segments) = searcher.graphs();
                if graphed > 0 {
                    outln!("approximate graphs: {graphed} of {segments} segments");
                }
            }
            Ok(())
        }
        IndexCommand::Rm { paths } => {
            let index = KnowledgeIndex::open(&folder)?;
            let mut writer = index.writer()?;
            let mut removed = 0;
            for path in &paths {
                removed += writer.remove(path)?;
            }
            writer.commit()?;
            outln!("removed {removed} files");
            Ok(())
        }
    }
}

/// The `eval` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// The retrieval benchmark on a BEIR dataset folder (corpus.jsonl, queries.jsonl,
    /// qrels/SPLIT.tsv): nDCG@10, Recall@100, MRR@10, index build time, query latency.
    Retrieval {
        /// The dataset's folder.
        dataset: PathBuf,
        /// The split whose queries run.
        #[arg(long, default_value = "test")]
        split: String,
        /// BM25 k1 (default: the index's).
        #[arg(long)]
        k1: Option<f32>,
        /// BM25 b (default: the index's).
        #[arg(long)]
        b: Option<f32>,
        /// What ranks: bm25, dense (the embedder's vectors), hybrid (both, fused by reciprocal
        /// rank as chosen on SciFact's train split), or all three on one build.
        #[arg(long, default_value = "bm25", value_parser = ["bm25", "dense", "hybrid", "all"])]
        mode: String,
        /// The embedding model of dense and hybrid: a configured [embedders.NAME] or a model
        /// folder (default: all-MiniLM-L6-v2).
        #[arg(short, long, value_name = "NAME|FOLDER")]
        embedder: Option<String>,
        /// Build the dataset's index in this folder and keep it: a later run over the same
        /// corpus with the same embedder embeds nothing again (default: a temporary folder).
        #[arg(long, value_name = "FOLDER")]
        keep_index: Option<PathBuf>,
    },
}

/// Runs an `eval` subcommand.
pub async fn eval(context: &Context, command: EvalCommand) -> Outcome {
    match command {
        EvalCommand::Retrieval { dataset, split, k1, b, mode, embedder, keep_index } => {
            let settings = SearchSettings::overriding(k1, b, None);
            if mode == "bm25" {
                let report = benchmark::benchmark(&dataset, &split, settings, 0).await?;
                outln!("{report}");
                return Ok(());
            }
            use anymodel::tools::eval::dense;
            let embedder = load_embedder(context, embedder.as_deref())?;
            let report = dense::benchmark(
                &dataset,
                &split,
                &embedder,
                &dense::modes(&mode),
                &dense::default_fusion(),
                settings,
                keep_index.as_deref(),
                !context.quiet,
            )
            .await?;
            outln!("{report}");
            Ok(())
        }
    }
}
