//! Reasoning in a local model's text: the families whose templates write `<think>…</think>`
//! (DeepSeek-R1's distilled Llamas and Qwens, Qwen3) think inside those tags before they
//! answer. The splitter parts a generation's text into reasoning and answer as it streams, with
//! tags that arrive split over several tokens.

/// The tag that opens reasoning.
pub(crate) const OPEN: &str = "<think>";
/// The tag that closes it.
pub(crate) const CLOSE: &str = "</think>";

/// A piece of generated text, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Reasoning, inside the tags.
    Reasoning(String),
    /// The answer, after them.
    Answer(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but white space yet: the reply may still open with the tag.
    Start,
    /// Inside the tags.
    Thinking,
    /// After them (or with no tags at all).
    Answering,
}

/// Parts generated text into reasoning and answer as it arrives.
#[derive(Debug)]
pub(crate) struct ThinkSplitter {
    state: State,
    /// Text held back: it may be the start of the tag being looked for.
    held: String,
}

impl ThinkSplitter {
    /// A splitter for a reply whose prompt ends inside an open `<think>` (the template opened
    /// it) or not (the model may open it itself, first thing).
    pub(crate) fn new(opened_by_prompt: bool) -> Self {
        let state = if opened_by_prompt { State::Thinking } else { State::Start };
        ThinkSplitter { state, held: String::new() }
    }

    /// A splitter for a reply to this rendered prompt, which may leave a tag open.
    pub(crate) fn for_prompt(prompt: &str) -> Self {
        ThinkSplitter::new(prompt.trim_end().ends_with(OPEN))
    }

    /// The pieces `text` completes.
    pub(crate) fn push(&mut self, text: &str) -> Vec<Piece> {
        self.held.push_str(text);
        let mut pieces = Vec::new();
        loop {
            match self.state {
                State::Start => {
                    let trimmed = self.held.trim_start();
                    if trimmed.is_empty() {
                        return pieces;
                    }
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.held = rest.to_string();
                        self.state = State::Thinking;
                    } else if OPEN.starts_with(trimmed) {
                        return pieces;
                    } else {
                        self.state = State::Answering;
                    }
                }
                State::Thinking => match self.held.find(CLOSE) {
                    Some(at) => {
                        let reasoning = self.held[..at].to_string();
                        let rest = self.held[at + CLOSE.len()..].trim_start().to_string();
                        push_piece(&mut pieces, Piece::Reasoning(reasoning));
                        self.held = rest;
                        self.state = State::Answering;
                    }
                    None => {
                        let keep = partial_tag_len(&self.held, CLOSE);
                        let ready = self.held.len() - keep;
                        push_piece(&mut pieces, Piece::Reasoning(self.held[..ready].to_string()));
                        self.held.drain(..ready);
                        return pieces;
                    }
                },
                State::Answering => {
                    push_piece(&mut pieces, Piece::Answer(std::mem::take(&mut self.held)));
                    return pieces;
                }
            }
        }
    }

    /// What is still held when the generation ends: reasoning that never closed stays
    /// reasoning; a reply that was only white space is an empty answer.
    pub(crate) fn finish(self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        match self.state {
            State::Thinking => push_piece(&mut pieces, Piece::Reasoning(self.held)),
            State::Start | State::Answering => push_piece(&mut pieces, Piece::Answer(self.held)),
        }
        pieces
    }
}

fn push_piece(pieces: &mut Vec<Piece>, piece: Piece) {
    let empty = match &piece {
        Piece::Reasoning(text) | Piece::Answer(text) => text.is_empty(),
    };
    if !empty {
        pieces.push(piece);
    }
}

/// How many bytes at the end of `text` could begin `tag`.
fn partial_tag_len(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(opened: bool, chunks: &[&str]) -> (String, String) {
        let mut splitter = ThinkSplitter::new(opened);
        let mut pieces: Vec<Piece> = chunks.iter().flat_map(|c| splitter.push(c)).collect();
        pieces.extend(splitter.finish());
        let (mut reasoning, mut answer) = (String::new(), String::new());
        for piece in pieces {
            match piece {
                Piece::Reasoning(text) => reasoning.push_str(&text),
                Piece::Answer(text) => answer.push_str(&text),
            }
        }
        (reasoning, answer)
    }

    #[test]
    fn tags_split_over_tokens_still_part_the_text() {
        let chunks = ["\n<th", "ink>", "Two and ", "two.</", "thi", "nk>\n\n", "Four."];
        assert_eq!(split(false, &chunks), ("Two and two.".into(), "Four.".into()));
    }

    #[test]
    fn a_prompt_that_opened_the_tag_starts_in_reasoning() {
        assert_eq!(split(true, &["Hmm.", "</think>", "Yes."]), ("Hmm.".into(), "Yes.".into()));
        assert_eq!(split(true, &["Never closed <"]), ("Never closed <".into(), String::new()));
    }

    #[test]
    fn text_without_tags_is_all_answer() {
        assert_eq!(
            split(false, &["<b>bold</b>", " text"]),
            (String::new(), "<b>bold</b> text".into())
        );
        assert_eq!(split(false, &["<thin"]), (String::new(), "<thin".into()));
        assert_eq!(ThinkSplitter::for_prompt("<|Assistant|>").state, State::Start);
        let opened = ThinkSplitter::for_prompt("<|Assistant|><think>\n");
        assert_eq!(opened.state, State::Thinking);
    }
}
