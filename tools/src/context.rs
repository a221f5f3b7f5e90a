//! Passages laid out for a model's context: each under its citation, within a size budget, so
//! that what the search tool returns and what retrieval-augmented prompts hold read the same.

use anymodel_core::Passage;

/// What a passage cut short ends with.
const CUT: &str = " […]";

/// A passage is only cut to fit when at least this many characters of it would remain;
/// otherwise it, and every passage after it, is left out.
const SHORTEST_CUT: usize = 120;

/// The passages, best first, each as `[citation] title` and its text, separated by blank lines,
/// in at most `budget` characters: passages that do not fit are cut at the end (marked `[…]`) or
/// left out. Citations are `path:first-last`, the form the model is asked to cite.
pub fn format_passages(passages: &[Passage], budget: usize) -> String {
    let mut out = String::new();
    let mut left = budget;
    for passage in passages {
        let mut header = format!("[{}]", passage.source);
        if let Some(title) = &passage.source.title {
            header.push(' ');
            header.push_str(title);
        }
        header.push('\n');
        let separator = if out.is_empty() { 0 } else { 2 };
        let fixed = separator + header.chars().count();
        let text = passage.text.trim();
        let length = text.chars().count();
        if fixed + length <= left {
            push(&mut out, &header, text);
            left -= fixed + length;
            continue;
        }
        let room = left.saturating_sub(fixed + CUT.chars().count());
        if room >= SHORTEST_CUT.min(length) && room > 0 {
            let end = text.char_indices().nth(room).map_or(text.len(), |(at, _)| at);
            push(&mut out, &header, &format!("{}{CUT}", text[..end].trim_end()));
        }
        break;
    }
    out
}

fn push(out: &mut String, header: &str, text: &str) {
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(header);
    out.push_str(text);
}

#[cfg(test)]
mod tests {
    use anymodel_core::Source;

    use super::*;

    fn passage(path: &str, lines: (u32, u32), title: Option<&str>, text: &str) -> Passage {
        Passage {
            text: text.into(),
            score: 1.0,
            source: Source { path: path.into(), title: title.map(Into::into), lines: Some(lines) },
        }
    }

    #[test]
    fn passages_come_under_their_citations() {
        let passages = [
            passage("docs/install.md", (5, 8), Some("Install > Linux"), "Run make install.\n"),
            passage("src/config.rs", (1, 4), None, "fn load() {}"),
        ];
        assert_eq!(
            format_passages(&passages, 10_000),
            "[docs/install.md:5-8] Install > Linux\nRun make install.\n\n[src/config.rs:1-4]\nfn load() {}"
        );
    }

    #[test]
    fn the_budget_cuts_the_last_passage_that_fits_and_drops_the_rest() {
        let long = "word ".repeat(100);
        let passages = [
            passage("a.md", (1, 1), None, "short"),
            passage("b.md", (2, 9), None, &long),
            passage("c.md", (1, 1), None, "x"),
        ];
        let text = format_passages(&passages, 200);
        assert!(text.chars().count() <= 200, "{}", text.chars().count());
        assert!(text.starts_with("[a.md:1]\nshort\n\n"), "{text}");
        assert!(text.contains("[b.md:2-9]\nword word") && text.ends_with("word […]"), "{text}");
        assert!(!text.contains("c.md"), "{text}");
        // Too little room left to be worth a cut: the passage is left out.
        assert_eq!(format_passages(&passages, 40), "[a.md:1]\nshort");
        assert_eq!(format_passages(&[], 100), "");
    }
}
