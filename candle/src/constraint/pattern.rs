//! The shortest way to finish a string that must match a schema's `pattern`: a breadth-first
//! search over the states of the pattern's lazy DFA (regex-automata, as the `regex` crate runs
//! it), from the state the written text leads to, for the fewest characters that make the
//! string contain a match. JSON Schema patterns are searches, not whole matches: `^` and `$`
//! anchor them where they are written.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

/// The most characters a search adds.
const MAX_ADDED: usize = 64;

/// The characters a close may add: printable ASCII that needs no escape in JSON.
fn alphabet() -> impl Iterator<Item = u8> {
    (0x20..0x7f).filter(|b| *b != b'"' && *b != b'\\')
}

/// The patterns of one schema, compiled on first use (a reply checks its close at each token).
#[derive(Default)]
pub(super) struct Patterns {
    compiled: RefCell<HashMap<String, Option<(DFA, Cache)>>>,
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patterns").finish_non_exhaustive()
    }
}

impl Clone for Patterns {
    fn clone(&self) -> Self {
        Patterns::default()
    }
}

impl Patterns {
    /// The fewest characters that, after `written`, give a string containing a match of
    /// `pattern`, of at least `least` and at most `most` characters in all; `None` when there
    /// are none within [`MAX_ADDED`] or the pattern is not one the DFA runs.
    pub(super) fn finish(
        &self,
        pattern: &str,
        written: &str,
        least: usize,
        most: Option<usize>,
    ) -> Option<String> {
        let mut compiled = self.compiled.borrow_mut();
        let entry = compiled.entry(pattern.to_string()).or_insert_with(|| {
            let dfa = DFA::builder()
                .configure(DFA::config().match_kind(MatchKind::All))
                .build(pattern)
                .ok()?;
            let cache = dfa.create_cache();
            Some((dfa, cache))
        });
        let (dfa, cache) = entry.as_mut()?;
        let config = start::Config::new().anchored(Anchored::No);
        let mut state = dfa.start_state(cache, &config).ok()?;
        let mut matched = false;
        for byte in written.bytes() {
            state = dfa.next_state(cache, state, byte).ok()?;
            matched |= state.is_match();
        }
        let chars = written.chars().count();
        let most = most.map_or(MAX_ADDED, |most| most.saturating_sub(chars).min(MAX_ADDED));
        let least = least.saturating_sub(chars);
        // Breadth first: each level adds one character.
        let mut level: VecDeque<(LazyStateID, bool, String)> =
            VecDeque::from([(state, matched, String::new())]);
        let mut seen: HashSet<(LazyStateID, bool, usize)> = HashSet::new();
        for added in 0..=most {
            let mut next = VecDeque::new();
            for (state, matched, text) in level {
                let ends_matched = matched || dfa.next_eoi_state(cache, state).ok()?.is_match();
                if ends_matched && added >= least {
                    return Some(text);
                }
                if state.is_dead() && !matched {
                    continue;
                }
                for byte in alphabet() {
                    let after = dfa.next_state(cache, state, byte).ok()?;
                    let matched = matched || after.is_match();
                    if seen.insert((after, matched, (added + 1).min(least))) {
                        next.push_back((after, matched, format!("{text}{}", byte as char)));
                    }
                }
            }
            level = next;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fewest_characters_that_make_a_match() {
        let patterns = Patterns::default();
        let finish = |pattern, written, least, most| patterns.finish(pattern, written, least, most);
        assert_eq!(finish("^[A-Z]{3}$", "CU", 0, None).as_deref(), Some("A"));
        assert_eq!(finish("^[A-Z]{3}$", "", 0, None).as_deref(), Some("AAA"));
        assert_eq!(finish("^[A-Z]{3}$", "Cu", 0, None), None, "a dead end");
        assert_eq!(finish("^\\d{4}-\\d{2}$", "20", 0, None).as_deref(), Some("00-00"));
        // A search: a match anywhere will do, and what follows it is free.
        assert_eq!(finish("ab", "xx", 0, None).as_deref(), Some("ab"));
        assert_eq!(finish("ab", "xxab", 3, None).as_deref(), Some(""));
        assert_eq!(finish("a", "", 3, None).as_deref(), Some("  a"), "padded to three");
        assert_eq!(finish("^[a-z]+$", "", 0, Some(0)), None, "no room");
        assert_eq!(finish("(?<=a)b", "", 0, None), None, "not a pattern the DFA runs");
    }
}
