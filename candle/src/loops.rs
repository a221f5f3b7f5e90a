//! Replies that repeat themselves: a run of tokens written several times in a row. Free text
//! that loops is stopped; a constrained reply that loops has its looping part closed.

/// When a run of tokens counts as a loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopRule {
    /// The longest run looked for, in tokens.
    pub(crate) period: usize,
    /// How many times in a row the run must be written.
    pub(crate) repeats: usize,
    /// The fewest tokens the repeats must cover in all.
    pub(crate) tokens: usize,
}

/// Free text: four times in a row, at least 24 tokens in all. A refrain or a list with a
/// repeated word does not trip it; "la femme au roi, la femme au roi, …" does.
pub(crate) const FREE_TEXT: LoopRule = LoopRule { period: 32, repeats: 4, tokens: 24 };

/// Constrained JSON: three times in a row, at least 8 tokens. Inside a string value or an array,
/// repeats that long are a small model stuck, never content worth the budget.
pub(crate) const CONSTRAINED: LoopRule = LoopRule { period: 16, repeats: 3, tokens: 8 };

impl LoopRule {
    /// Where a loop at the end of `tokens` begins: the index of the first token of its repeated
    /// runs; `None` when the tokens do not end in one.
    pub(crate) fn start(&self, tokens: &[u32]) -> Option<usize> {
        let n = tokens.len();
        for period in 1..=self.period {
            let span = (self.repeats * period).max(self.tokens);
            if n < span {
                return None;
            }
            if (n - span + period..n).all(|i| tokens[i] == tokens[i - period]) {
                let mut first = n - span;
                while first > 0 && tokens[first - 1] == tokens[first - 1 + period] {
                    first -= 1;
                }
                return Some(first);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_found_where_they_begin() {
        let rule = CONSTRAINED;
        assert_eq!(rule.start(&[1, 2, 3, 4, 5, 3, 4, 5, 3, 4, 5, 3, 4, 5]), Some(2));
        assert_eq!(rule.start(&[9, 7, 7, 7, 7, 7, 7, 7, 7]), Some(1));
        assert_eq!(rule.start(&[9, 7, 7, 7, 7, 7, 7, 7]), None, "seven in a row");
        assert_eq!(rule.start(&[1, 2, 1, 2, 1, 2, 3]), None);
        assert_eq!(rule.start(&[]), None);
        // Free text needs four runs and 24 tokens: a six-token phrase said four times.
        let phrase = [10, 11, 12, 13, 14, 15];
        let said = |times: usize| -> Vec<u32> {
            [100].into_iter().chain(phrase.iter().copied().cycle().take(6 * times)).collect()
        };
        assert_eq!(FREE_TEXT.start(&said(3)), None);
        assert_eq!(FREE_TEXT.start(&said(4)), Some(1));
    }
}
