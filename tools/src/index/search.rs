//! Searching the index: BM25 over the body and the boosted title, with phrases and filters, the
//! best `k` chunks, their passages and snippets.
//!
//! Scoring is done here rather than by tantivy's own BM25 query because that one fixes
//! `k1 = 1.2, b = 0.75`, and the best published BM25 settings on retrieval benchmarks differ; it
//! walks tantivy's postings and field norms, a document-length table and an accumulator per
//! segment, which on indexes of up to a few million chunks takes well under a millisecond to a
//! few milliseconds per query.

use std::ops::Range;
use std::path::PathBuf;

use anymodel_core::{Filter, Passage, RetrievalQuery, Source};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::Postings;
use tantivy::query::{BooleanQuery, EnableScoring, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, DocSet, SegmentReader, TERMINATED, TantivyDocument, Term};

use super::analyzer;
use super::error::IndexError;
use super::schema::{CHUNK, FILE, Fields};
use super::vectors::{self, SegmentCache, VectorSpace};

/// The two parameters of BM25.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    /// How quickly repeats of a term stop adding to the score (0 counts presence only).
    pub k1: f32,
    /// How much a long chunk is penalised (0: not at all, 1: fully in proportion).
    pub b: f32,
}

/// How results are ranked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSettings {
    /// BM25's parameters.
    pub bm25: Bm25,
    /// The weight of a match in the title (heading path) against one in the body; 0 ignores
    /// titles beyond the body, which holds them too.
    pub title_boost: f32,
    /// How deep each ranking goes before hybrid search fuses them: a chunk ranked 150th by
    /// both is a better 100th than one ranked 99th by one alone.
    pub candidates: usize,
}

impl Default for SearchSettings {
    /// Settings chosen on the train split of BEIR SciFact (see the README).
    fn default() -> Self {
        SearchSettings {
            bm25: Bm25 { k1: 1.2, b: 0.5 },
            title_boost: 0.0,
            candidates: super::hybrid::CANDIDATES,
        }
    }
}

impl SearchSettings {
    /// The default settings with whichever of `k1`, `b` and `title_boost` are given instead
    /// (what benchmark flags set).
    pub fn overriding(k1: Option<f32>, b: Option<f32>, title_boost: Option<f32>) -> Self {
        let defaults = SearchSettings::default();
        SearchSettings {
            bm25: Bm25 { k1: k1.unwrap_or(defaults.bm25.k1), b: b.unwrap_or(defaults.bm25.b) },
            title_boost: title_boost.unwrap_or(defaults.title_boost),
            ..defaults
        }
    }
}

/// One chunk found, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Its BM25 score; comparable only within one query.
    pub score: f32,
    /// The document it belongs to: a file's path, a record's id.
    pub document: String,
    address: DocAddress,
}

/// An excerpt of a passage around the words that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The excerpt.
    pub text: String,
    /// The byte ranges of the matched words within it.
    pub matches: Vec<Range<usize>>,
}

impl std::fmt::Display for Snippet {
    /// The excerpt with each matched word between `**`, as Markdown and terminals show well.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut at = 0;
        for range in &self.matches {
            write!(f, "{}**{}**", &self.text[at..range.start], &self.text[range.clone()])?;
            at = range.end;
        }
        f.write_str(&self.text[at..])
    }
}

/// A view of the index as of one commit. Searches through it all see the same documents.
pub struct Searcher {
    inner: tantivy::Searcher,
    fields: Fields,
    settings: SearchSettings,
    folder: PathBuf,
    cache: SegmentCache,
    /// The vectors' record, read on first use.
    space: std::sync::OnceLock<Option<VectorSpace>>,
}

/// A query as words to score and phrases to require.
#[derive(Debug, Default)]
struct Parsed {
    /// Each distinct term and how many times the query has it.
    terms: Vec<(String, f32)>,
    /// Runs of terms that must appear together, in order.
    phrases: Vec<Vec<String>>,
}

/// Splits `text` into free words and `"quoted phrases"`, and analyses both.
fn parse(text: &str) -> Parsed {
    let mut analyzer = analyzer::analyzer();
    let mut counts: Vec<(String, f32)> = Vec::new();
    let mut add = |term: String| match counts.iter_mut().find(|(t, _)| *t == term) {
        Some((_, n)) => *n += 1.0,
        None => counts.push((term, 1.0)),
    };
    let mut phrases = Vec::new();
    for (i, part) in text.split('"').enumerate() {
        let terms = analyzer::terms(&mut analyzer, part);
        if i % 2 == 1 && terms.len() > 1 {
            phrases.push(terms.clone());
        }
        terms.into_iter().for_each(&mut add);
    }
    Parsed { terms: counts, phrases }
}

impl Searcher {
    pub(super) fn new(
        inner: tantivy::Searcher,
        fields: Fields,
        settings: SearchSettings,
        folder: PathBuf,
        cache: SegmentCache,
    ) -> Self {
        Searcher { inner, fields, settings, folder, cache, space: std::sync::OnceLock::new() }
    }

    /// The same view, ranking with `settings`.
    pub fn with_settings(mut self, settings: SearchSettings) -> Self {
        self.settings = settings;
        self
    }

    /// How many of its segments dense search reads through an approximate graph
    /// ([`super::GraphPolicy`]), and how many segments it has.
    pub fn graphs(&self) -> (usize, usize) {
        let segments = self.inner.segment_readers();
        let graphed = segments
            .iter()
            .filter(|s| super::graphs::file(&self.folder, s.segment_id()).is_file())
            .count();
        (graphed, segments.len())
    }

    /// The settings it ranks with.
    pub fn settings(&self) -> SearchSettings {
        self.settings
    }

    /// The folder of the index it views.
    pub fn folder(&self) -> &std::path::Path {
        &self.folder
    }

    fn engine(&self, error: impl Into<tantivy::TantivyError>) -> IndexError {
        IndexError::engine(&self.folder, error.into())
    }

    /// How many chunks the index holds.
    pub fn chunks(&self) -> Result<u64, IndexError> {
        self.count(CHUNK)
    }

    /// How many files the index holds.
    pub fn files(&self) -> Result<u64, IndexError> {
        self.count(FILE)
    }

    fn count(&self, kind: &str) -> Result<u64, IndexError> {
        let query =
            TermQuery::new(Term::from_field_text(self.fields.kind, kind), IndexRecordOption::Basic);
        let count =
            self.inner.search(&query, &tantivy::collector::Count).map_err(|e| self.engine(e))?;
        Ok(count as u64)
    }

    /// The best `query.k` chunks for `query.text` that meet every filter, best first. Words are
    /// matched after stemming; `"quoted phrases"` must appear as written. A query with no
    /// searchable words, or that matches nothing, gives no hits.
    pub fn search(&self, query: &RetrievalQuery) -> Result<Vec<Hit>, IndexError> {
        self.hits(self.ranked(query)?)
    }

    /// [`Searcher::search`]'s ranking, chunks by address (what fusion compares).
    pub(super) fn ranked(&self, query: &RetrievalQuery) -> Result<Vec<Ranked>, IndexError> {
        let parsed = parse(&query.text);
        if parsed.terms.is_empty() || query.k == 0 {
            return Ok(Vec::new());
        }
        let scored = self.scored_fields(&parsed)?;
        let phrases: Vec<Box<dyn tantivy::query::Weight>> = parsed
            .phrases
            .iter()
            .map(|phrase| {
                let terms =
                    phrase.iter().map(|t| Term::from_field_text(self.fields.body, t)).collect();
                PhraseQuery::new(terms).weight(EnableScoring::disabled_from_searcher(&self.inner))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.engine(e))?;

        let mut candidates: Vec<(f32, DocAddress)> = Vec::new();
        for (ordinal, segment) in self.inner.segment_readers().iter().enumerate() {
            let mut scores = vec![0f32; segment.max_doc() as usize];
            let mut touched: Vec<DocId> = Vec::new();
            for field in &scored {
                field.accumulate(segment, &mut scores, &mut touched).map_err(|e| self.engine(e))?;
            }
            let mut allowed = self.filtered(segment, &query.filters)?;
            for weight in &phrases {
                let mut docs = weight.scorer(segment, 1.0).map_err(|e| self.engine(e))?;
                allowed.intersect(segment.max_doc(), |keep| drain(docs.as_mut(), keep));
            }
            let alive = segment.alive_bitset();
            let segment_ord = u32::try_from(ordinal).unwrap_or(u32::MAX);
            candidates.extend(
                touched
                    .into_iter()
                    .filter(|&doc| alive.is_none_or(|a| a.is_alive(doc)) && allowed.contains(doc))
                    .map(|doc| (scores[doc as usize], DocAddress::new(segment_ord, doc))),
            );
        }
        Ok(best(candidates, query.k))
    }

    /// The vectors this index holds, as its last commit records them; `None` when it has none.
    pub fn vectors(&self) -> Result<Option<VectorSpace>, IndexError> {
        if let Some(space) = self.space.get() {
            return Ok(space.clone());
        }
        let read = vectors::recorded(self.inner.index(), &self.folder)?;
        Ok(self.space.get_or_init(|| read).clone())
    }

    /// The best `query.k` chunks by the dot product of their vectors with `vector` (cosine, for
    /// the normalised vectors embedders give), that meet every filter of `query`, best first.
    /// `vector` must come from the index's embedder ([`Searcher::vectors`]) for the query
    /// `query.text`; [`IndexError::NoVectors`] when the index has none, and
    /// [`IndexError::EmbedderMismatch`] when `vector` is of another size.
    pub fn search_vector(
        &self,
        vector: &[f32],
        query: &RetrievalQuery,
    ) -> Result<Vec<Hit>, IndexError> {
        self.hits(self.ranked_by_vector(vector, query)?)
    }

    /// [`Searcher::search_vector`]'s ranking, chunks by address.
    pub(super) fn ranked_by_vector(
        &self,
        vector: &[f32],
        query: &RetrievalQuery,
    ) -> Result<Vec<Ranked>, IndexError> {
        let Some(space) = self.vectors()? else {
            return Err(IndexError::NoVectors { folder: self.folder.clone() });
        };
        if vector.len() != space.dimensions {
            return Err(IndexError::EmbedderMismatch {
                folder: self.folder.clone(),
                given: format!("a query vector of {} dimensions", vector.len()),
                held: space,
            });
        }
        let segments = self.inner.segment_readers();
        self.cache.retain(&segments.iter().map(SegmentReader::segment_id).collect::<Vec<_>>());
        let mut candidates: Vec<(f32, DocAddress)> = Vec::new();
        for (ordinal, segment) in segments.iter().enumerate() {
            let vectors = self.cache.vectors(segment, space.dimensions, &self.folder)?;
            let allowed = self.filtered(segment, &query.filters)?;
            let alive = segment.alive_bitset();
            let keep = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc)) && allowed.contains(doc);
            let segment_ord = u32::try_from(ordinal).unwrap_or(u32::MAX);
            candidates.extend(
                vectors
                    .search(vector, query.k, keep, &self.folder)?
                    .into_iter()
                    .map(|(doc, score)| (score, DocAddress::new(segment_ord, doc))),
            );
        }
        Ok(best(candidates, query.k))
    }

    /// Ranked chunks as hits, each with its document's id (read once per segment's column).
    pub(super) fn hits(&self, ranked: Vec<Ranked>) -> Result<Vec<Hit>, IndexError> {
        let mut columns = std::collections::HashMap::new();
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, address) in ranked {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let segment = self.inner.segment_reader(address.segment_ord);
                    slot.insert(segment.fast_fields().str("doc_id").map_err(|e| self.engine(e))?)
                }
            };
            let mut document = String::new();
            if let Some(column) = column
                && let Some(ordinal) = column.term_ords(address.doc_id).next()
            {
                column.ord_to_str(ordinal, &mut document).map_err(|e| self.engine(e))?;
            }
            hits.push(Hit { score, document, address });
        }
        Ok(hits)
    }

    /// The chunks of `segment` that meet every one of `filters`.
    fn filtered(&self, segment: &SegmentReader, filters: &[Filter]) -> Result<Allowed, IndexError> {
        let mut allowed = Allowed::default();
        for filter in filters {
            self.filter(segment, filter, &mut allowed)?;
        }
        Ok(allowed)
    }

    /// The fields a query scores in, with their terms' weights.
    fn scored_fields(&self, parsed: &Parsed) -> Result<Vec<ScoredField>, IndexError> {
        let settings = self.settings;
        let chunks = self
            .inner
            .doc_freq(&Term::from_field_text(self.fields.kind, CHUNK))
            .map_err(|e| self.engine(e))?;
        let mut fields = vec![(self.fields.body, 1.0)];
        if settings.title_boost > 0.0 {
            fields.push((self.fields.title, settings.title_boost));
        }
        let mut scored = Vec::new();
        for (field, boost) in fields {
            let tokens: u64 = self
                .inner
                .segment_readers()
                .iter()
                .map(|segment| segment.inverted_index(field).map(|index| index.total_num_tokens()))
                .sum::<tantivy::Result<u64>>()
                .map_err(|e| self.engine(e))?;
            let average = tokens as f32 / chunks.max(1) as f32;
            let mut terms = Vec::new();
            for (text, count) in &parsed.terms {
                let term = Term::from_field_text(field, text);
                let df = self.inner.doc_freq(&term).map_err(|e| self.engine(e))?;
                if df > 0 {
                    terms.push((term, boost * count * idf(df, chunks.max(df))));
                }
            }
            let bm25 = settings.bm25;
            let norms: Vec<f32> = (0..=255u8)
                .map(|id| {
                    let length = FieldNormReader::id_to_fieldnorm(id) as f32;
                    bm25.k1 * (1.0 - bm25.b + bm25.b * length / average.max(f32::MIN_POSITIVE))
                })
                .collect();
            scored.push(ScoredField { field, terms, norms, k1: bm25.k1 });
        }
        Ok(scored)
    }

    /// Narrows `allowed` to the chunks of `segment` that meet `filter`.
    fn filter(
        &self,
        segment: &SegmentReader,
        filter: &Filter,
        allowed: &mut Allowed,
    ) -> Result<(), IndexError> {
        let max_doc = segment.max_doc();
        match filter {
            Filter::PathPrefix { prefix } => {
                let prefix = prefix.trim_start_matches("./");
                let index = segment.inverted_index(self.fields.path).map_err(|e| self.engine(e))?;
                let mut terms = index
                    .terms()
                    .range()
                    .ge(prefix.as_bytes())
                    .into_stream()
                    .map_err(|e| self.engine(e))?;
                let mut docs = Vec::new();
                while terms.advance() && terms.key().starts_with(prefix.as_bytes()) {
                    let mut postings = index
                        .read_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)
                        .map_err(|e| self.engine(e))?;
                    drain(&mut postings, &mut |doc| docs.push(doc));
                }
                allowed.intersect(max_doc, |keep| docs.into_iter().for_each(keep));
            }
            Filter::Metadata { key, value } => {
                let term = Term::from_field_text(self.fields.meta, &format!("{key}={value}"));
                let index = segment.inverted_index(self.fields.meta).map_err(|e| self.engine(e))?;
                let postings = index
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(|e| self.engine(e))?;
                allowed.intersect(max_doc, |keep| {
                    if let Some(mut postings) = postings {
                        drain(&mut postings, keep);
                    }
                });
            }
        }
        Ok(())
    }

    fn stored(&self, hit: &Hit) -> Result<TantivyDocument, IndexError> {
        self.inner.doc(hit.address).map_err(|e| self.engine(e))
    }

    /// The passage of a hit: its text and where it comes from.
    pub fn passage(&self, hit: &Hit) -> Result<Passage, IndexError> {
        let doc = self.stored(hit)?;
        let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string);
        let number = |field: Field| {
            doc.get_first(field).and_then(|v| v.as_u64()).and_then(|n| u32::try_from(n).ok())
        };
        let lines = number(self.fields.first_line).zip(number(self.fields.last_line));
        let title = text(self.fields.title).filter(|t| !t.is_empty());
        let source = Source { path: text(self.fields.path).unwrap_or_default(), title, lines };
        Ok(Passage { text: text(self.fields.text).unwrap_or_default(), score: hit.score, source })
    }

    /// The byte range of a hit in its file, for chunks of files read as they are.
    pub fn byte_range(&self, hit: &Hit) -> Result<Option<Range<u64>>, IndexError> {
        let doc = self.stored(hit)?;
        let number = |field: Field| doc.get_first(field).and_then(|v| v.as_u64());
        Ok(number(self.fields.first_byte)
            .zip(number(self.fields.end_byte))
            .map(|(start, end)| start..end))
    }

    /// The metadata of a hit, as `key=value` pairs.
    pub fn metadata(&self, hit: &Hit) -> Result<Vec<(String, String)>, IndexError> {
        let doc = self.stored(hit)?;
        Ok(doc
            .get_all(self.fields.meta)
            .filter_map(|v| v.as_str())
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// An excerpt of at most `max_chars` of `passage` (a hit's, from [`Searcher::passage`])
    /// around the words of `query`, with those words marked; the passage's start when none of
    /// them is in it.
    pub fn snippet(
        &self,
        query: &str,
        passage: &Passage,
        max_chars: usize,
    ) -> Result<Snippet, IndexError> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = parse(query)
            .terms
            .into_iter()
            .map(|(text, _)| {
                let term = Term::from_field_text(self.fields.body, &text);
                (
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
                )
            })
            .collect();
        let mut generator =
            SnippetGenerator::create(&self.inner, &BooleanQuery::new(clauses), self.fields.body)
                .map_err(|e| self.engine(e))?;
        generator.set_max_num_chars(max_chars);
        let snippet = generator.snippet(&passage.text);
        if snippet.fragment().is_empty() {
            let end =
                passage.text.char_indices().nth(max_chars).map_or(passage.text.len(), |(at, _)| at);
            return Ok(Snippet { text: passage.text[..end].to_string(), matches: Vec::new() });
        }
        Ok(Snippet {
            text: snippet.fragment().to_string(),
            matches: snippet.highlighted().to_vec(),
        })
    }
}

/// A chunk ranked: its score and where it is.
pub(super) type Ranked = (f32, DocAddress);

/// The best `k` of `candidates`, best first (ties by address, so results are stable).
fn best(mut candidates: Vec<Ranked>, k: usize) -> Vec<Ranked> {
    let best = |a: &Ranked, b: &Ranked| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if k == 0 {
        return Vec::new();
    }
    if candidates.len() > k {
        candidates.select_nth_unstable_by(k - 1, best);
        candidates.truncate(k);
    }
    candidates.sort_unstable_by(best);
    candidates
}

/// BM25's inverse document frequency (the Lucene form, never negative).
fn idf(doc_freq: u64, docs: u64) -> f32 {
    let docs = docs as f32;
    let doc_freq = doc_freq as f32;
    (1.0 + (docs - doc_freq + 0.5) / (doc_freq + 0.5)).ln()
}

/// A field to score in: its terms with their weights (idf × boost × count in the query), and
/// the length part of BM25's denominator for each of tantivy's 256 field-norm codes.
struct ScoredField {
    field: Field,
    terms: Vec<(Term, f32)>,
    norms: Vec<f32>,
    k1: f32,
}

impl ScoredField {
    /// Adds the field's BM25 score of each chunk of `segment` to `scores`, noting in `touched`
    /// the chunks scored for the first time.
    fn accumulate(
        &self,
        segment: &SegmentReader,
        scores: &mut [f32],
        touched: &mut Vec<DocId>,
    ) -> tantivy::Result<()> {
        let index = segment.inverted_index(self.field)?;
        let lengths = segment.get_fieldnorms_reader(self.field)?;
        for (term, weight) in &self.terms {
            let Some(mut postings) = index.read_postings(term, IndexRecordOption::WithFreqs)?
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                let tf = postings.term_freq() as f32;
                let norm = self.norms[usize::from(lengths.fieldnorm_id(doc))];
                let score = &mut scores[doc as usize];
                if *score == 0.0 {
                    touched.push(doc);
                }
                *score += weight * tf * (self.k1 + 1.0) / (tf + norm);
                doc = postings.advance();
            }
        }
        Ok(())
    }
}

/// The chunks of a segment allowed by phrases and filters so far; all until one narrows it.
#[derive(Default)]
struct Allowed(Option<Vec<bool>>);

impl Allowed {
    /// Keeps only the documents that `docs` passes to its callback.
    fn intersect(&mut self, max_doc: DocId, docs: impl FnOnce(&mut dyn FnMut(DocId))) {
        let mut matched = vec![false; max_doc as usize];
        docs(&mut |doc| matched[doc as usize] = true);
        if let Some(before) = &self.0 {
            matched.iter_mut().zip(before).for_each(|(now, was)| *now &= *was);
        }
        self.0 = Some(matched);
    }

    fn contains(&self, doc: DocId) -> bool {
        self.0.as_ref().is_none_or(|allowed| allowed[doc as usize])
    }
}

/// Passes every document of `docs` to `each`.
fn drain(docs: &mut dyn DocSet, each: &mut dyn FnMut(DocId)) {
    let mut doc = docs.doc();
    while doc != TERMINATED {
        each(doc);
        doc = docs.advance();
    }
}
