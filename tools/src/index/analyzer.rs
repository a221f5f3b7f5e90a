//! How text becomes terms: one analyzer for documents and queries alike, so that what is
//! indexed and what is searched for meet.
//!
//! Words are split on anything that is not a letter or digit (so `snake_case` gives `snake` and
//! `case`), identifiers written in `camelCase` or `PascalCase` also give their parts (`parseHttp`
//! gives `parsehttp`, `parse` and `http`), then words are lower-cased, English stop words dropped
//! (the short list Lucene's English analyzer uses, as the published BM25 figures do) and the rest
//! stemmed (Snowball English).

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    Token, TokenFilter, TokenStream, Tokenizer,
};

/// The name the analyzer is registered under in the index.
pub const ANALYZER: &str = "anymodel_en";

/// Lucene's `EnglishAnalyzer` stop set: short enough to keep words that carry meaning in
/// questions and code ("not", "new", "from").
const STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Words longer than this (in bytes) are dropped: they are hashes, base64 or minified code.
const LONGEST_WORD: usize = 40;

/// The analyzer for every text field of the knowledge index: built once (its stop-word set and
/// stemmer), then cloned for each index and query.
pub fn analyzer() -> TextAnalyzer {
    static ANALYZER: std::sync::LazyLock<TextAnalyzer> = std::sync::LazyLock::new(|| {
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(LONGEST_WORD))
            .filter(SplitIdentifiers)
            .filter(LowerCaser)
            .filter(StopWordFilter::remove(STOP_WORDS.iter().map(|word| word.to_string())))
            .filter(Stemmer::new(Language::English))
            .build()
    });
    ANALYZER.clone()
}

/// The terms `text` gives, in order: what a query for `text` looks for.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        terms.push(stream.token().text.clone());
    }
    terms
}

/// A token filter that follows each `camelCase` or `PascalCase` word with its parts, at the same
/// position, so that both the identifier and its words can be found.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitIdentifiers;

impl TokenFilter for SplitIdentifiers {
    type Tokenizer<T: Tokenizer> = SplitIdentifiersFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> SplitIdentifiersFilter<T> {
        SplitIdentifiersFilter { inner: tokenizer, parts: Vec::new() }
    }
}

/// [`SplitIdentifiers`] applied to a tokenizer.
#[derive(Clone)]
pub struct SplitIdentifiersFilter<T> {
    inner: T,
    parts: Vec<Token>,
}

impl<T: Tokenizer> Tokenizer for SplitIdentifiersFilter<T> {
    type TokenStream<'a> = SplitIdentifiersStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.parts.clear();
        SplitIdentifiersStream {
            inner: self.inner.token_stream(text),
            parts: &mut self.parts,
            part: None,
        }
    }
}

/// The token stream of [`SplitIdentifiersFilter`].
pub struct SplitIdentifiersStream<'a, S> {
    inner: S,
    /// Parts still to give, last first.
    parts: &'a mut Vec<Token>,
    /// The part being given, when not the inner stream's token.
    part: Option<Token>,
}

impl<S: TokenStream> TokenStream for SplitIdentifiersStream<'_, S> {
    fn advance(&mut self) -> bool {
        if let Some(part) = self.parts.pop() {
            self.part = Some(part);
            return true;
        }
        self.part = None;
        if !self.inner.advance() {
            return false;
        }
        let token = self.inner.token();
        let bounds = identifier_parts(&token.text);
        if bounds.len() > 1 {
            for range in bounds.into_iter().rev() {
                self.parts.push(Token {
                    offset_from: token.offset_from + range.start,
                    offset_to: token.offset_from + range.end,
                    position: token.position,
                    text: token.text[range].to_string(),
                    position_length: token.position_length,
                });
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.part.as_ref().unwrap_or_else(|| self.inner.token())
    }

    fn token_mut(&mut self) -> &mut Token {
        match &mut self.part {
            Some(part) => part,
            None => self.inner.token_mut(),
        }
    }
}

/// The byte ranges of the words of an identifier: a new word starts at an upper-case letter that
/// follows a lower-case letter or digit (`parse|Http`), or that is followed by a lower-case letter
/// after upper-case ones (`HTTP|Server`).
fn identifier_parts(word: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, here) = chars[i];
        let before = chars[i - 1].1;
        let after = chars.get(i + 1).map(|&(_, c)| c);
        let lower_to_upper =
            (before.is_lowercase() || before.is_ascii_digit()) && here.is_uppercase();
        let acronym_end =
            before.is_uppercase() && here.is_uppercase() && after.is_some_and(char::is_lowercase);
        if lower_to_upper || acronym_end {
            parts.push(start..at);
            start = at;
        }
    }
    parts.push(start..word.len());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(text: &str) -> Vec<String> {
        terms(&mut analyzer(), text)
    }

    #[test]
    fn identifiers_give_their_words_too() {
        assert_eq!(analyze("parseHttpRequest"), ["parsehttprequest", "pars", "http", "request"]);
        assert_eq!(analyze("HTTPServer"), ["httpserver", "http", "server"]);
        assert_eq!(analyze("snake_case_name"), ["snake", "case", "name"]);
        assert_eq!(analyze("Plain words"), ["plain", "word"]);
    }

    #[test]
    fn english_is_stemmed_and_stop_words_dropped() {
        assert_eq!(analyze("The indexes of running processes"), ["index", "run", "process"]);
    }

    #[test]
    fn parts_share_the_identifier_position() {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream("call readFile now");
        let mut positions = Vec::new();
        while stream.advance() {
            positions.push((stream.token().text.clone(), stream.token().position));
        }
        let expected = [("call", 0), ("readfil", 1), ("read", 1), ("file", 1), ("now", 2)];
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        assert_eq!(positions, expected);
    }
}
