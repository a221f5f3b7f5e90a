//! The knowledge index end to end: ingest, incremental re-ingest, search, filters, snippets,
//! damaged and foreign folders, and exclusive writing across processes.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anymodel_core::{Filter, RetrievalQuery, Retriever, WordHashEmbedder};
use anymodel_tools::index::{
    GraphPolicy, IndexError, IngestOptions, KnowledgeIndex, SearchMode, SkipReason,
};

const INSTALL: &str = "# Install\n\nDownload the archive.\n\n## Linux\n\nRun `make install` as root.\nThe binary lands in /usr/local/bin.\n\n## Windows\n\nDouble-click the installer.\n";
const CODE: &str = "/// Reads the configuration file.\nfn loadConfigFile(path: &str) -> Config {\n    parse_toml(path)\n}\n";

/// A docs tree: Markdown, code, a JSON Lines file, a binary, an ignored file, a broken link.
fn docs(root: &Path) {
    fs::create_dir_all(root.join("guide")).unwrap();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join("guide/install.md"), INSTALL).unwrap();
    fs::write(root.join("src/config.rs"), CODE).unwrap();
    fs::write(
        root.join("faq.jsonl"),
        "{\"id\": \"q1\", \"title\": \"Licence\", \"text\": \"The project is dual licensed.\", \"lang\": \"en\"}\n\
         {\"id\": \"q2\", \"title\": \"Licence (fr)\", \"text\": \"Le projet a deux licences.\", \"lang\": \"fr\"}\n",
    )
    .unwrap();
    fs::write(root.join("logo.png"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").unwrap();
    fs::write(root.join(".gitignore"), "build/\n").unwrap();
    fs::create_dir_all(root.join("build")).unwrap();
    fs::write(root.join("build/out.md"), "# Generated\n\nmake install output\n").unwrap();
    std::os::unix::fs::symlink(root.join("missing.md"), root.join("dangling.md")).unwrap();
}

fn search(index: &KnowledgeIndex, query: RetrievalQuery) -> Vec<(String, String)> {
    let searcher = index.searcher();
    let hits = searcher.search(&query).unwrap();
    hits.iter()
        .map(|hit| (hit.document.clone(), searcher.passage(hit).unwrap().source.to_string()))
        .collect()
}

#[test]
fn a_folder_is_ingested_with_skips_counted_and_sources_cited() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("docs");
    docs(&root);
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    let report = index.ingest(&[&root], &IngestOptions::default()).unwrap();

    assert_eq!(
        (report.added, report.updated, report.unchanged, report.removed),
        (3, 0, 0, 0),
        "{report}"
    );
    assert_eq!((report.binary(), report.unreadable(), report.invalid()), (1, 1, 0), "{report:?}");
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| {
            (s.path.file_name().unwrap().to_str().unwrap(), matches!(s.reason, SkipReason::Binary))
        })
        .collect();
    assert!(
        skipped.contains(&("logo.png", true)) && skipped.contains(&("dangling.md", false)),
        "{skipped:?}"
    );
    assert_eq!(index.searcher().files().unwrap(), 3);

    // The Linux section is cited with its file, lines and heading path; the ignored build/ is not there.
    let root_name = root.to_str().unwrap().to_string();
    let hits = search(&index, RetrievalQuery::new("make install", 5));
    assert_eq!(
        hits[0],
        (format!("{root_name}/guide/install.md"), format!("{root_name}/guide/install.md:5-8"))
    );
    assert!(hits.iter().all(|(doc, _)| !doc.contains("build")), "{hits:?}");
    let searcher = index.searcher();
    let hit = &searcher.search(&RetrievalQuery::new("make install", 1)).unwrap()[0];
    let passage = searcher.passage(hit).unwrap();
    assert_eq!(passage.source.title.as_deref(), Some("Install > Linux"));
    assert!(passage.text.starts_with("## Linux"), "{}", passage.text);
    let bytes = searcher.byte_range(hit).unwrap().unwrap();
    assert_eq!(&INSTALL[bytes.start as usize..bytes.end as usize], passage.text);

    // Identifiers in code are found by their words; records by their own ids, on their line.
    assert_eq!(
        search(&index, RetrievalQuery::new("load config", 1))[0].1,
        format!("{root_name}/src/config.rs:1-4")
    );
    assert_eq!(
        search(&index, RetrievalQuery::new("dual licensed", 1))[0],
        ("q1".into(), format!("{root_name}/faq.jsonl:1"))
    );
}

#[test]
fn re_ingesting_indexes_only_what_changed_and_drops_what_is_gone() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("notes");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("a.md"), "# A\n\nApples are red.\n").unwrap();
    fs::write(root.join("b.md"), "# B\n\nBananas are yellow.\n").unwrap();
    fs::write(root.join("c.md"), "# C\n\nCherries are dark.\n").unwrap();
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    let first = index.ingest(&[&root], &IngestOptions::default()).unwrap();
    assert_eq!((first.added, first.chunks), (3, 3));

    fs::write(root.join("b.md"), "# B\n\nBlueberries are blue.\n").unwrap();
    fs::remove_file(root.join("c.md")).unwrap();
    let second = index.ingest(&[&root], &IngestOptions::default()).unwrap();
    assert_eq!(
        (second.added, second.updated, second.unchanged, second.removed),
        (0, 1, 1, 1),
        "{second}"
    );
    assert_eq!(second.chunks, 1, "only the changed file is chunked again");

    assert!(search(&index, RetrievalQuery::new("bananas", 5)).is_empty());
    assert!(search(&index, RetrievalQuery::new("cherries", 5)).is_empty());
    assert_eq!(search(&index, RetrievalQuery::new("blueberries", 5)).len(), 1);
    assert_eq!(search(&index, RetrievalQuery::new("apples", 5)).len(), 1);
    assert_eq!((index.searcher().files().unwrap(), index.searcher().chunks().unwrap()), (2, 2));

    // Nothing changed: nothing is written. The index reopens with the same content.
    let third = index.ingest(&[&root], &IngestOptions::default()).unwrap();
    assert_eq!((third.unchanged, third.chunks), (2, 0));
    drop(index);
    let reopened = KnowledgeIndex::open(temp.path().join("index")).unwrap();
    assert_eq!(search(&reopened, RetrievalQuery::new("apples", 5)).len(), 1);
    assert_eq!(reopened.remove(&root.to_string_lossy()).unwrap(), 2);
    assert_eq!(reopened.searcher().chunks().unwrap(), 0);
}

#[test]
fn filters_narrow_by_path_prefix_and_metadata() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("docs");
    docs(&root);
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    index.ingest(&[&root], &IngestOptions::default()).unwrap();
    let root_name = root.to_str().unwrap();

    let anywhere = search(&index, RetrievalQuery::new("licence config install", 10));
    assert_eq!(anywhere.len(), 6, "{anywhere:?}");
    let in_src = RetrievalQuery::new("licence config install", 10)
        .with_filter(Filter::PathPrefix { prefix: format!("{root_name}/src") });
    assert_eq!(
        search(&index, in_src).iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        [format!("{root_name}/src/config.rs")]
    );
    let french = RetrievalQuery::new("licence projet", 10)
        .with_filter(Filter::Metadata { key: "lang".into(), value: "fr".into() });
    assert_eq!(search(&index, french).iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["q2"]);
    let markdown = RetrievalQuery::new("licence config install", 10)
        .with_filter(Filter::Metadata { key: "kind".into(), value: "markdown".into() })
        .with_filter(Filter::PathPrefix { prefix: format!("{root_name}/guide/") });
    assert!(search(&index, markdown).iter().all(|h| h.0.ends_with("install.md")));
    let nowhere = RetrievalQuery::new("install", 10)
        .with_filter(Filter::PathPrefix { prefix: "elsewhere/".into() });
    assert!(search(&index, nowhere).is_empty());
}

#[test]
fn queries_without_hits_phrases_and_snippets() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("docs");
    docs(&root);
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    index.ingest(&[&root], &IngestOptions::default()).unwrap();

    assert!(search(&index, RetrievalQuery::new("zeppelin quantum", 5)).is_empty());
    assert!(
        search(&index, RetrievalQuery::new("the of and", 5)).is_empty(),
        "stop words alone match nothing"
    );
    assert!(search(&index, RetrievalQuery::new("", 5)).is_empty());

    // The Linux section says "the binary lands": the words match in any order, the phrase only
    // as written.
    assert_eq!(search(&index, RetrievalQuery::new("lands binary", 5)).len(), 1);
    assert!(search(&index, RetrievalQuery::new("\"lands binary\"", 5)).is_empty());
    assert_eq!(search(&index, RetrievalQuery::new("\"binary lands\"", 5)).len(), 1);
    // "install" is in every section (the title), "make install" as a phrase in one.
    assert_eq!(search(&index, RetrievalQuery::new("\"make install\"", 5)).len(), 1);

    let searcher = index.searcher();
    let hit = &searcher.search(&RetrievalQuery::new("double-click installer", 1)).unwrap()[0];
    let passage = searcher.passage(hit).unwrap();
    let snippet = searcher.snippet("double-click installer", &passage, 80).unwrap();
    assert!(snippet.to_string().ends_with("**Double**-**click** the **installer**"), "{snippet}");
    assert_eq!(&snippet.text[snippet.matches[2].clone()], "installer");
}

#[test]
fn retriever_gives_passages_with_citations() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("docs");
    docs(&root);
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    index.ingest(&[&root], &IngestOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let passages =
        runtime.block_on(index.retrieve(&RetrievalQuery::new("windows installer", 2))).unwrap();
    assert_eq!(
        passages[0].source.to_string(),
        format!("{}/guide/install.md:10-12", root.display())
    );
    assert!(passages[0].score > 0.0 && passages[0].text.contains("Double-click"));
}

#[test]
fn foreign_damaged_and_other_version_folders_are_refused_clearly() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("nothing");
    assert!(matches!(KnowledgeIndex::open(&missing), Err(IndexError::Missing { .. })));

    let notes = temp.path().join("notes");
    fs::create_dir_all(&notes).unwrap();
    fs::write(notes.join("todo.txt"), "buy milk").unwrap();
    let error = KnowledgeIndex::open_or_create(&notes).unwrap_err();
    assert!(matches!(error, IndexError::NotAnIndex { .. }), "{error}");
    assert!(error.to_string().contains("is not an anymodel index"), "{error}");
    assert_eq!(fs::read_dir(&notes).unwrap().count(), 1, "the folder was left as it was");

    let folder = temp.path().join("index");
    KnowledgeIndex::create(&folder).unwrap();
    let marker = folder.join("anymodel-index.json");
    let good = fs::read_to_string(&marker).unwrap();
    fs::write(&marker, good.replace("\"version\": 2", "\"version\": 99")).unwrap();
    let error = KnowledgeIndex::open(&folder).unwrap_err();
    assert!(matches!(error, IndexError::Version { found: 99, expected: 2, .. }), "{error}");
    assert!(error.to_string().contains("delete the folder and ingest again"), "{error}");

    fs::write(&marker, good).unwrap();
    fs::write(folder.join("meta.json"), "{ this is not json").unwrap();
    let error = KnowledgeIndex::open(&folder).unwrap_err();
    assert!(matches!(error, IndexError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("is damaged"), "{error}");

    fs::write(&marker, "garbage").unwrap();
    assert!(matches!(KnowledgeIndex::open(&folder), Err(IndexError::Corrupt { .. })));
}

#[test]
fn a_missing_path_to_ingest_is_an_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    let error =
        index.ingest(&[temp.path().join("no-such-docs")], &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(error, IndexError::Input { .. }) && error.to_string().contains("no-such-docs"),
        "{error}"
    );
}

/// Set for the child processes of the tests below: what they do, and on which index.
const CHILD_ROLE: &str = "ANYMODEL_TEST_INDEX_ROLE";
const CHILD_INDEX: &str = "ANYMODEL_TEST_INDEX_FOLDER";

/// Runs this test binary again as a child playing `role` on the index at `folder`.
fn child(role: &str, folder: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ROLE, role)
        .env(CHILD_INDEX, folder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a child process does: `hold` takes the writer, stages a file, says `ready` and waits for
/// its standard input to close; `crash` stages a file and aborts without committing.
#[test]
#[ignore = "run by the tests below as a separate process"]
fn child_process() {
    let (Ok(role), Ok(folder)) = (std::env::var(CHILD_ROLE), std::env::var(CHILD_INDEX)) else {
        return;
    };
    let folder = Path::new(&folder);
    let index = KnowledgeIndex::open(folder).unwrap();
    let mut writer = index.writer().unwrap();
    let staged = folder.parent().unwrap().join("staged.md");
    fs::write(&staged, "# Staged\n\nUncommitted zebras.\n").unwrap();
    writer.ingest(&[&staged], &IngestOptions::default()).unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    if role == "crash" {
        std::process::abort();
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

/// Waits for the child to say `ready`; its output, to keep open until it has exited.
fn wait_ready(child: &mut std::process::Child) -> impl Iterator + use<> {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest may have printed the test name on the same line first.
    assert!(
        lines.any(|line| line.unwrap().ends_with("ready")),
        "the child process did not get going"
    );
    lines
}

#[test]
fn two_processes_cannot_both_write_and_readers_do_not_wait() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("index");
    let index = KnowledgeIndex::create(&folder).unwrap();
    let note = temp.path().join("note.md");
    fs::write(&note, "# Note\n\nCommitted giraffes.\n").unwrap();
    index.ingest(&[&note], &IngestOptions::default()).unwrap();

    let mut holder = child("hold", &folder);
    let _output = wait_ready(&mut holder);
    let error = index.ingest(&[&note], &IngestOptions::default()).unwrap_err();
    assert!(matches!(error, IndexError::Locked { .. }), "{error}");
    assert!(error.to_string().contains("being written by another process"), "{error}");
    // Reading goes on meanwhile, and sees only what was committed.
    assert_eq!(search(&index, RetrievalQuery::new("giraffes", 5)).len(), 1);
    assert!(search(&index, RetrievalQuery::new("zebras", 5)).is_empty());

    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    index.ingest(&[&note], &IngestOptions::default()).unwrap();
}

#[test]
fn a_crash_mid_ingest_leaves_the_last_commit() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("index");
    let index = KnowledgeIndex::create(&folder).unwrap();
    let note = temp.path().join("note.md");
    fs::write(&note, "# Note\n\nCommitted giraffes.\n").unwrap();
    index.ingest(&[&note], &IngestOptions::default()).unwrap();
    drop(index);

    let mut crasher = child("crash", &folder);
    let _output = wait_ready(&mut crasher);
    assert!(!crasher.wait().unwrap().success());

    let index = KnowledgeIndex::open(&folder).unwrap();
    assert_eq!(search(&index, RetrievalQuery::new("giraffes", 5)).len(), 1);
    assert!(search(&index, RetrievalQuery::new("zebras", 5)).is_empty());
    // The crashed writer's lock went with it.
    let report = index.ingest(&[temp.path().join("staged.md")], &IngestOptions::default()).unwrap();
    assert_eq!(report.added, 1);
}

/// One file has one name in the index however its folder is given (`notes`, `notes/../notes`,
/// `./notes`): ingesting it three ways stores it once. Removing the working folder's entries
/// leaves those named outside it.
#[test]
fn a_file_given_three_ways_is_stored_once() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("notes");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("a.md"), "# A\n\nApples are red.\n").unwrap();
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    let options = IngestOptions::default();
    index.ingest(&[&root], &options).unwrap();
    let again = index.ingest(&[root.join("../notes")], &options).unwrap();
    let once_more = index.ingest(&[root.join(".")], &options).unwrap();
    assert_eq!((again.added, again.unchanged), (0, 1), "{again}");
    assert_eq!((once_more.added, once_more.unchanged), (0, 1), "{once_more}");
    assert_eq!(index.searcher().files().unwrap(), 1);
    // The files here are named by absolute paths, outside the working folder: `./` is not them.
    assert_eq!(index.remove("./").unwrap(), 0);
    assert_eq!(index.searcher().files().unwrap(), 1);
}

/// Two first-time `index add`s at once: each opens a whole index (the one made first), and the
/// second writer is told the index is locked, never that it is damaged.
#[test]
fn two_first_time_adds_at_once_see_a_whole_index() {
    for round in 0..10 {
        let temp = tempfile::tempdir().unwrap();
        let notes = temp.path().join("notes");
        fs::create_dir_all(&notes).unwrap();
        fs::write(notes.join("a.md"), "# A\n\nApples are red.\n").unwrap();
        let folder = temp.path().join("index");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let adds: Vec<_> = (0..2)
            .map(|_| {
                let (folder, notes, barrier) = (folder.clone(), notes.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let index = KnowledgeIndex::open_or_create(&folder)?;
                    index.ingest(&[&notes], &IngestOptions::default())
                })
            })
            .collect();
        for add in adds {
            match add.join().unwrap() {
                Ok(_) | Err(IndexError::Locked { .. }) => {}
                Err(other) => panic!("round {round}: {other}"),
            }
        }
        assert_eq!(KnowledgeIndex::open(&folder).unwrap().searcher().files().unwrap(), 1);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn dense(
    index: &KnowledgeIndex,
    query: RetrievalQuery,
    mode: &SearchMode,
    embedder: &dyn anymodel_core::Embedder,
) -> Result<Vec<String>, IndexError> {
    let searcher = index.searcher();
    let hits = runtime().block_on(searcher.search_in(&query, mode, Some(embedder)))?;
    Ok(hits.iter().map(|hit| searcher.passage(hit).unwrap().source.to_string()).collect())
}

/// Vectors go in with their chunks; re-adding an unchanged folder embeds nothing, an edit embeds
/// only the chunks it changed, and removed files take their vectors with them.
#[test]
fn vectors_are_made_once_per_chunk_text() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("docs");
    docs(&root);
    let index = KnowledgeIndex::create(temp.path().join("index")).unwrap();
    let words = WordHashEmbedder::new("words", 64);
    let options = IngestOptions { embedder_named: Some("words-v1".into()), ..Default::default() };
    let add = |embedder: &WordHashEmbedder| {
        runtime().block_on(index.ingest_embedding(&[&root], &options, embedder)).unwrap()
    };

    let first = add(&words);
    assert_eq!((first.added, first.embedded, first.reused), (3, first.chunks, 0), "{first}");
    assert_eq!(words.embedded(), first.chunks);
    assert_eq!(index.searcher().chunks().unwrap(), first.chunks as u64);

    let again = add(&words);
    assert_eq!((again.unchanged, again.chunks, again.embedded, again.reused), (3, 0, 0, 0));
    assert_eq!(words.embedded(), first.chunks, "an unchanged folder embeds nothing");

    // One section of one file changes: its chunk is embedded, the file's others reused.
    fs::write(root.join("guide/install.md"), INSTALL.replace("Double-click", "Run")).unwrap();
    let edited = add(&words);
    assert_eq!((edited.updated, edited.embedded), (1, 1), "{edited}");
    assert_eq!(edited.reused, edited.chunks - 1);
    assert_eq!(words.embedded(), first.chunks + 1);

    let found =
        dense(&index, RetrievalQuery::new("Run the installer", 1), &SearchMode::Dense, &words)
            .unwrap();
    assert_eq!(found, ["docs/guide/install.md:10-12"].map(|s| temp_name(&temp, s)));

    fs::remove_file(root.join("guide/install.md")).unwrap();
    let removed = add(&words);
    assert_eq!((removed.removed, removed.embedded), (1, 0));
    let found =
        dense(&index, RetrievalQuery::new("Run the installer", 10), &SearchMode::Dense, &words)
            .unwrap();
    assert!(found.iter().all(|source| !source.contains("install.md")), "{found:?}");
    let space = index.searcher().vectors().unwrap().unwrap();
    assert_eq!(
        (space.embedder.as_str(), space.dimensions, space.named.as_deref()),
        ("words", 64, Some("words-v1"))
    );
}

/// How a source under the temporary folder is named (relative to the working folder when the
/// temporary folder is inside it, else absolute).
fn temp_name(temp: &tempfile::TempDir, relative: &str) -> String {
    let real = temp.path().canonicalize().unwrap();
    let here = std::env::current_dir().unwrap().canonicalize().unwrap();
    let base = real.strip_prefix(&here).map(Path::to_path_buf).unwrap_or(real);
    format!("{}/{relative}", base.display())
}

/// Dense and hybrid search rank by the vectors, honour filters, and refuse what cannot be
/// compared: an index without vectors, another embedder's queries, files added without one.
#[test]
fn dense_and_hybrid_search_keep_to_one_embedder() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("docs");
    docs(&root);
    let plain = KnowledgeIndex::create(temp.path().join("plain")).unwrap();
    plain.ingest(&[&root], &IngestOptions::default()).unwrap();
    let words = WordHashEmbedder::new("words", 64);
    let query = RetrievalQuery::new("configuration file", 3);
    assert!(matches!(
        dense(&plain, query.clone(), &SearchMode::Dense, &words),
        Err(IndexError::NoVectors { .. })
    ));
    // Vectors for part of an index without any would leave the rest unsearchable.
    let part = runtime().block_on(plain.ingest_embedding(
        &[root.join("src")],
        &IngestOptions::default(),
        &words,
    ));
    assert!(matches!(part, Err(IndexError::WithoutVectors { outside: 2, .. })), "{part:?}");
    // All of it: every file is indexed again, with vectors.
    let whole = runtime()
        .block_on(plain.ingest_embedding(&[&root], &IngestOptions::default(), &words))
        .unwrap();
    assert_eq!((whole.updated, whole.embedded), (3, whole.chunks), "{whole}");

    let hybrid = dense(&plain, query.clone(), &SearchMode::hybrid(), &words).unwrap();
    assert!(hybrid[0].contains("src/config.rs"), "{hybrid:?}");
    let filtered = dense(
        &plain,
        query
            .clone()
            .with_filter(Filter::Metadata { key: "kind".into(), value: "markdown".into() }),
        &SearchMode::Dense,
        &words,
    )
    .unwrap();
    assert!(!filtered.is_empty() && filtered.iter().all(|s| s.contains(".md")), "{filtered:?}");

    let other = WordHashEmbedder::new("other", 32);
    let mismatch = dense(&plain, query, &SearchMode::Dense, &other).unwrap_err();
    assert!(matches!(mismatch, IndexError::EmbedderMismatch { .. }));
    assert!(mismatch.to_string().contains("words (64 dimensions), not of other (32 dimensions)"));
    let added =
        runtime().block_on(plain.ingest_embedding(&[&root], &IngestOptions::default(), &other));
    assert!(matches!(added, Err(IndexError::EmbedderMismatch { .. })), "{added:?}");
    let needed = plain.ingest(&[&root], &IngestOptions::default()).unwrap_err();
    assert!(matches!(needed, IndexError::EmbedderNeeded { .. }));
    assert!(needed.to_string().contains("anymodel index add --embed words"), "{needed}");

    // Removing files keeps the record of the vectors; reopening reads it.
    plain.remove(&temp_name(&temp, "docs/faq.jsonl")).unwrap();
    let reopened = KnowledgeIndex::open(temp.path().join("plain")).unwrap();
    assert_eq!(reopened.searcher().vectors().unwrap().unwrap().embedder, "words");
}

/// Past the policy's size, segments get approximate graphs at commit; dense and hybrid search
/// through them find what exact search finds, deleted chunks stay out, and the graphs of
/// segments merged away go with them.
#[test]
fn large_segments_get_graphs_that_search_as_exact_search_does() {
    const WORDS: [&str; 12] = [
        "river", "copper", "lantern", "orbit", "meadow", "cipher", "harbor", "quartz", "violet",
        "tundra", "falcon", "ember",
    ];
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("notes");
    fs::create_dir_all(&root).unwrap();
    let note = |i: usize| {
        let words: Vec<&str> = (0..4).map(|j| WORDS[(i * 7 + j * 5 + i / 12) % 12]).collect();
        format!("Note {i}: {} and item{i}.\n", words.join(" "))
    };
    for i in 0..300 {
        fs::write(root.join(format!("n{i:03}.txt")), note(i)).unwrap();
    }
    let words = WordHashEmbedder::new("words", 64);
    let small = GraphPolicy { from_total: 100, from_segment: 100 };
    let graphed =
        KnowledgeIndex::create(temp.path().join("graphed")).unwrap().with_graph_policy(small);
    let exact = KnowledgeIndex::create(temp.path().join("exact"))
        .unwrap()
        .with_graph_policy(GraphPolicy::never());
    let options = IngestOptions::default();
    for index in [&graphed, &exact] {
        runtime().block_on(index.ingest_embedding(&[&root], &options, &words)).unwrap();
    }
    let graphs = |index: &KnowledgeIndex| -> Vec<String> {
        match fs::read_dir(index.folder().join("graphs")) {
            Ok(entries) => {
                entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
            }
            Err(_) => Vec::new(),
        }
    };
    assert!(!graphs(&graphed).is_empty(), "a graph was made");
    assert!(graphs(&graphed).iter().all(|name| name.ends_with(".usearch")));
    assert!(graphs(&exact).is_empty());

    for i in [0, 17, 123, 299] {
        let text = note(i);
        for mode in [SearchMode::Dense, SearchMode::hybrid()] {
            // The same scores (the notes share words, so equal scores may swap places).
            let query = RetrievalQuery::new(text.clone(), 5);
            let scores = |index: &KnowledgeIndex| -> Vec<f32> {
                let hits = runtime()
                    .block_on(index.searcher().search_in(&query, &mode, Some(&words)))
                    .unwrap();
                hits.iter().map(|hit| hit.score).collect()
            };
            let (approximate, truth) = (scores(&graphed), scores(&exact));
            assert_eq!(approximate.len(), truth.len());
            assert!(approximate.iter().zip(&truth).all(|(a, t)| (a - t).abs() < 1e-4), "{text}");
            let found = dense(&graphed, query.clone(), &mode, &words).unwrap();
            assert!(found.iter().any(|f| f.contains(&format!("n{i:03}.txt"))), "{found:?}");
        }
    }

    // A removed file's chunk stays in the graph, marked deleted, and is never found.
    graphed.remove(&temp_name(&temp, "notes/n017.txt")).unwrap();
    let query = RetrievalQuery::new(note(17), 5);
    let found = dense(&graphed, query, &SearchMode::Dense, &words).unwrap();
    assert!(found.iter().all(|source| !source.contains("n017.txt")), "{found:?}");

    // More files make new segments; once merged, only live segments keep graphs.
    for i in 300..450 {
        fs::write(root.join(format!("n{i:03}.txt")), note(i)).unwrap();
    }
    runtime().block_on(graphed.ingest_embedding(&[&root], &options, &words)).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(graphed.folder().join("meta.json")).unwrap()).unwrap();
    let live: Vec<String> = meta["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}.usearch", s["segment_id"].as_str().unwrap().replace('-', "")))
        .collect();
    let left = graphs(&graphed);
    assert!(left.iter().all(|name| live.contains(name)), "{left:?} among {live:?}");
    let query = RetrievalQuery::new(note(420), 5);
    let found = dense(&graphed, query, &SearchMode::Dense, &words).unwrap();
    assert!(found.iter().any(|f| f.contains("n420.txt")), "{found:?}");
}
