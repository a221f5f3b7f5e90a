//! The search tool in an agent's hands, and retrieval-augmented replies, over a real index.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use anymodel_core::{
    Agent, ChatRequest, ChatResponse, Filter, Message, Model, Retriever, ScriptedModel, Tool,
    ToolCall, WordHashEmbedder,
};
use anymodel_tools::index::{IngestOptions, KnowledgeIndex};
use anymodel_tools::registry::ToolSettings;
use anymodel_tools::{RetrievalAugmented, SearchDocuments};
use serde_json::json;

const INSTALL: &str = "# Install\n\nDownload the archive.\n\n## Linux\n\nRun `make install` as root.\nThe binary lands in /usr/local/bin.\n\n## Windows\n\nDouble-click the installer.\n";

/// An index of one guide, and the guide's path as the index cites it.
fn index(temp: &Path) -> (Arc<KnowledgeIndex>, String) {
    let guide = temp.join("install.md");
    fs::write(&guide, INSTALL).unwrap();
    let index = KnowledgeIndex::create(temp.join("index")).unwrap();
    index.ingest(&[&guide], &IngestOptions::default()).unwrap();
    (Arc::new(index), guide.to_str().unwrap().to_string())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn an_agent_searches_and_gets_cited_passages() {
    let temp = tempfile::tempdir().unwrap();
    let (index, guide) = index(temp.path());
    let model = Arc::new(ScriptedModel::new([
        ChatResponse::tool_calls(vec![ToolCall::new(
            "c1",
            "search_documents",
            json!({"query": "install on linux", "k": 1}),
        )]),
        ChatResponse::text(format!("Run make install as root [{guide}:5-8].")),
    ]));
    let agent = Agent::builder(model.clone()).tool(SearchDocuments::new(index)).build().unwrap();
    let run = runtime().block_on(agent.run("How do I install on Linux?")).unwrap();

    let result = run.steps[0].tool_calls[0].result.as_ref().unwrap().as_str().unwrap().to_string();
    assert!(result.starts_with(&format!("[{guide}:5-8] Install > Linux\n## Linux")), "{result}");
    assert!(!result.contains("Windows"), "k = 1 gives one passage: {result}");
    // The model's second request carries the tool's answer.
    let second = &model.requests()[1];
    assert!(matches!(second.messages.last(), Some(Message::Tool(r)) if r.content == result));
    assert!(run.answer.contains(&format!("[{guide}:5-8]")));
}

#[test]
fn the_tool_keeps_to_its_budget_and_says_when_nothing_matches() {
    let temp = tempfile::tempdir().unwrap();
    let (index, _) = index(temp.path());
    let runtime = runtime();
    let tool = SearchDocuments::new(index.clone()).with_budget(150);
    let all = runtime
        .block_on(tool.call(json!({"query": "install download binary installer", "k": 10})))
        .unwrap();
    let all = all.as_str().unwrap();
    assert!(all.chars().count() <= 150 && all.contains('['), "{all}");

    let none = runtime.block_on(tool.call(json!({"query": "zeppelin"}))).unwrap();
    assert_eq!(none, json!("No passages match \"zeppelin\". Try other words."));
    assert!(runtime.block_on(tool.call(json!({"query": "  "}))).is_err());

    // A filter set by the app holds whatever the model asks.
    let elsewhere =
        SearchDocuments::new(index).with_filter(Filter::PathPrefix { prefix: "/nowhere".into() });
    let filtered = runtime.block_on(elsewhere.call(json!({"query": "install"}))).unwrap();
    assert!(filtered.as_str().unwrap().starts_with("No passages match"));

    let schema = tool.parameters();
    assert_eq!(schema["required"], json!(["query"]));
    assert!(schema["properties"]["query"]["description"].as_str().unwrap().contains("double"));
}

#[test]
fn retrieval_augmented_requests_carry_the_passages_and_the_question() {
    let temp = tempfile::tempdir().unwrap();
    let (index, guide) = index(temp.path());
    let scripted = ScriptedModel::new([ChatResponse::text("Double-click the installer.")]);
    let model = RetrievalAugmented::new(scripted, index.clone() as Arc<dyn Retriever>).with_k(1);
    let request = ChatRequest::new([
        Message::system("Be brief."),
        Message::user("How do I install on Windows?"),
    ]);
    let reply = runtime().block_on(model.chat(request)).unwrap();
    assert_eq!(reply.message.content, "Double-click the installer.");

    let sent = model.inner().requests().remove(0);
    assert_eq!(sent.messages[0], Message::system("Be brief."));
    let Message::User { content } = &sent.messages[1] else { panic!("{sent:?}") };
    let content = content.text();
    assert!(
        content.contains(&format!(
            "[{guide}:10-12] Install > Windows\n## Windows\n\nDouble-click the installer."
        )),
        "{content}"
    );
    assert!(content.ends_with("Question: How do I install on Windows?"), "{content}");
    assert!(!content.contains("Linux"), "k = 1: {content}");
}

/// With the embedder of an index's vectors in the tool settings, `search_documents` searches
/// hybrid (each query embedded); without it, BM25 alone.
#[test]
fn search_documents_searches_hybrid_when_the_index_holds_vectors() {
    let temp = tempfile::tempdir().unwrap();
    let guide = temp.path().join("install.md");
    fs::write(&guide, INSTALL).unwrap();
    let folder = temp.path().join("index");
    let words = Arc::new(WordHashEmbedder::new("words", 64));
    let index = KnowledgeIndex::create(&folder).unwrap();
    runtime()
        .block_on(index.ingest_embedding(&[&guide], &IngestOptions::default(), words.as_ref()))
        .unwrap();
    let tool = |embedder: Option<Arc<dyn anymodel_core::Embedder>>| {
        let settings = ToolSettings { index: Some(folder.clone()), embedder, ..Default::default() };
        anymodel_tools::registry::make("search_documents", &settings).unwrap()
    };
    let arguments = json!({"query": "double-click", "k": 1});
    let hybrid = runtime().block_on(tool(Some(words.clone())).call(arguments.clone())).unwrap();
    assert!(hybrid.as_str().unwrap().contains("Install > Windows"), "{hybrid}");
    let before = words.embedded();
    runtime().block_on(tool(Some(words.clone())).call(json!({"query": "zzz", "k": 1}))).unwrap();
    assert_eq!(words.embedded(), before + 1, "the query was embedded");
    let lexical = runtime().block_on(tool(None).call(arguments)).unwrap();
    assert!(lexical.as_str().unwrap().contains("Install > Windows"), "{lexical}");
    assert_eq!(words.embedded(), before + 1, "BM25 alone embeds nothing");
}
