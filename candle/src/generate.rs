//! Token generation: sampling, stop tokens and stop strings, the token limit, and text released
//! as soon as it forms valid UTF-8.

use anymodel_core::{Error, FinishReason, Result};
use candle_core::{DType, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling as Sampler};
use tokenizers::Tokenizer;

use super::constraint::Guide;
use super::loops::FREE_TEXT;
use super::session::{Session, backend};

/// How to pick tokens and when to stop.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) sampler: Sampler,
    /// The temperature the sampler uses (0 when greedy), which `min_p` is relative to.
    pub(crate) temperature: f64,
    pub(crate) min_p: Option<f64>,
    pub(crate) seed: u64,
    pub(crate) max_tokens: Option<usize>,
    pub(crate) stop: Vec<String>,
    pub(crate) end_tokens: Vec<u32>,
    pub(crate) repetition_penalty: f32,
    pub(crate) repeat_last_n: usize,
}

impl Params {
    /// The parameters of `sampling` (its unset options already filled with the model's
    /// defaults), ending at `end_tokens`.
    pub(crate) fn new(sampling: &anymodel_core::Sampling, end_tokens: Vec<u32>) -> Params {
        let temperature = sampling.temperature.unwrap_or(0.0).max(0.0);
        Params {
            sampler: sampler(sampling.temperature, sampling.top_k, sampling.top_p),
            temperature,
            min_p: sampling.min_p.filter(|p| *p > 0.0 && temperature > 1e-7),
            seed: sampling.seed.unwrap_or_else(|| fastrand::u64(..)),
            max_tokens: sampling.max_tokens.map(|n| n as usize),
            stop: sampling.stop.clone(),
            end_tokens,
            repetition_penalty: sampling.repetition_penalty.unwrap_or(1.0) as f32,
            repeat_last_n: sampling.repeat_last_n.unwrap_or(64) as usize,
        }
    }
}

/// What one generation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerationStats {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens that went through the model: fewer than `prompt_tokens` when the start of
    /// the prompt was already in the cache.
    pub prompt_tokens_processed: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Time spent generating them (sampling, constraint and forward passes), from the first
    /// sampled token to the last.
    pub decode_time: std::time::Duration,
}

/// How a generation ended: why, and the stop string that ended it, when one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ending {
    pub(crate) reason: FinishReason,
    pub(crate) stop_sequence: Option<String>,
}

/// The sampler for the request's options: greedy without a temperature (or at 0).
fn sampler(temperature: Option<f64>, top_k: Option<u32>, top_p: Option<f64>) -> Sampler {
    match temperature.filter(|t| *t > 1e-7) {
        None => Sampler::ArgMax,
        Some(temperature) => match (top_k.map(|k| k as usize), top_p) {
            (None, None) => Sampler::All { temperature },
            (Some(k), None) => Sampler::TopK { k, temperature },
            (None, Some(p)) => Sampler::TopP { p, temperature },
            (Some(k), Some(p)) => Sampler::TopKThenTopP { k, p, temperature },
        },
    }
}

/// Generates after `prompt`, reusing what `session` holds of it, and hands each piece of text to
/// `emit`, which returns `false` when nobody is listening any more: generation then stops, and
/// the finish reason is `None`. With a `guide`, once it applies (at once, or when the reply ends
/// with its trigger), only tokens its grammar allows are sampled, the guide has its say on the
/// budget (it may write the shortest close itself), and generation stops when the grammar is
/// complete. A trigger written with too few tokens left for any valid call ends the reply there,
/// cut for length. Free text that starts looping ([`FREE_TEXT`]) ends with
/// [`FinishReason::Repetition`].
pub(crate) fn generate(
    session: &mut dyn Session,
    tokenizer: &Tokenizer,
    prompt: &[u32],
    params: &Params,
    mut guide: Option<&mut Guide>,
    mut emit: impl FnMut(&str) -> bool,
) -> Result<(Option<Ending>, GenerationStats)> {
    let positions = session.positions();
    if prompt.is_empty() {
        return Err(Error::InvalidRequest { status: None, message: "the prompt is empty".into() });
    }
    if prompt.len() >= positions {
        return Err(Error::ContextLengthExceeded {
            message: format!(
                "the prompt has {} tokens; the context holds {positions}",
                prompt.len()
            ),
        });
    }
    // Reuse the cached prefix; the last prompt token always runs, for its logits.
    let common =
        session.held().iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len() - 1);
    let common = session.keep(common)?;
    let mut stats = GenerationStats {
        prompt_tokens: prompt.len(),
        prompt_tokens_processed: prompt.len() - common,
        completion_tokens: 0,
        decode_time: std::time::Duration::ZERO,
    };
    let limit = budget(params.max_tokens, prompt.len(), positions);
    // Room for the prompt and the reply at once (a reply without a limit gets a first share).
    session.reserve(prompt.len() + params.max_tokens.unwrap_or(256))?;
    // The last prompt token runs on its own: candle computes a batch of tokens and a single
    // token along slightly different paths, and this way its logits do not depend on how much
    // of the prompt the cache already held, so a seed reproduces its text.
    let (body, last) = prompt.split_at(prompt.len() - 1);
    if body.len() > common {
        session.forward(&body[common..])?;
    }
    let mut logits = session.forward(last)?;
    // Tokens written but not yet run through the model: the guide's own writes are run only
    // when the model has to go on after them.
    let mut unforwarded: Vec<u32> = Vec::new();
    let mut sampler = LogitsProcessor::from_sampling(params.seed, params.sampler.clone());
    let mut text = TextStream::new(&params.stop);
    let mut stop_sequence = None;
    let mut generated: Vec<u32> = Vec::new();
    let decode_start = std::time::Instant::now();
    let mut guided = guide.as_ref().is_some_and(|g| g.trigger.is_none());
    let reason = loop {
        let left = limit - stats.completion_tokens;
        if left == 0 {
            break FinishReason::Length;
        }
        let forced = guide.as_deref_mut().filter(|_| guided).and_then(Guide::forced);
        let mut token = match forced {
            Some(token) => token,
            None => {
                if !unforwarded.is_empty() {
                    logits = session.forward(&unforwarded)?;
                    unforwarded.clear();
                }
                // The penalty is for free text: inside a constrained reply, the grammar's own
                // punctuation repeats by design.
                if params.repetition_penalty != 1.0 && !guided {
                    let recent = &generated[generated.len().saturating_sub(params.repeat_last_n)..];
                    logits = candle_transformers::utils::apply_repeat_penalty(
                        &logits,
                        params.repetition_penalty,
                        recent,
                    )
                    .map_err(backend)?;
                }
                if let Some(guide) = guide.as_deref_mut().filter(|_| guided) {
                    logits = guide.mask(&logits)?;
                }
                if let Some(min_p) = params.min_p {
                    logits = keep_likely(&logits, min_p, params.temperature)?;
                }
                let token = sampler.sample(&logits).map_err(backend)?;
                if params.end_tokens.contains(&token) {
                    break FinishReason::Stop;
                }
                token
            }
        };
        if let Some(guide) = guide.as_deref_mut().filter(|_| guided) {
            token = guide.admit(token, left)?;
        }
        generated.push(token);
        unforwarded.push(token);
        stats.completion_tokens += 1;
        stats.decode_time = decode_start.elapsed();
        let decoded = tokenizer
            .decode(&generated, false)
            .map_err(|err| Error::Backend { message: format!("local model: decoding: {err}") })?;
        let mut cut = false;
        if !guided
            && let Some(guide) = guide.as_deref_mut()
            && guide.trigger.is_some_and(|t| decoded.ends_with(t))
        {
            guided = true;
            cut = guide.needed().is_some_and(|needed| needed > limit - stats.completion_tokens);
        }
        let (release, stopped) = text.advance(&decoded);
        if !release.is_empty() && !emit(&release) {
            return Ok((None, stats));
        }
        if let Some(stop) = stopped {
            stop_sequence = Some(stop.to_string());
            break FinishReason::Stop;
        }
        if guided && guide.as_deref().is_some_and(Guide::is_done) {
            break FinishReason::Stop;
        }
        if cut {
            break FinishReason::Length;
        }
        if !guided && FREE_TEXT.start(&generated).is_some() {
            break FinishReason::Repetition;
        }
    };
    let rest = text.flush();
    if !rest.is_empty() && !emit(&rest) {
        return Ok((None, stats));
    }
    Ok((Some(Ending { reason, stop_sequence }), stats))
}

/// `logits` with the tokens less likely than `min_p` times the likeliest one (at
/// `temperature`) taken out: min-p sampling, as llama.cpp does it.
fn keep_likely(logits: &Tensor, min_p: f64, temperature: f64) -> Result<Tensor> {
    let mut values: Vec<f32> = logits
        .to_dtype(DType::F32)
        .and_then(|l| l.flatten_all())
        .and_then(|l| l.to_vec1())
        .map_err(backend)?;
    let best = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // p / p_max < min_p  <=>  (logit - best) / temperature < ln(min_p)
    let floor = best + (temperature * min_p.ln()) as f32;
    for value in &mut values {
        if *value < floor {
            *value = f32::NEG_INFINITY;
        }
    }
    let len = values.len();
    Tensor::from_vec(values, len, logits.device()).map_err(backend)
}

/// The most tokens a reply may have: `max_tokens`, and no more than the context has room for
/// after the prompt.
pub(crate) fn budget(max_tokens: Option<usize>, prompt: usize, positions: usize) -> usize {
    let room = positions.saturating_sub(prompt);
    max_tokens.map_or(room, |max| max.min(room))
}

/// The text of a generation as it grows: holds back an incomplete UTF-8 character and anything
/// that may be the start of a stop string.
struct TextStream<'a> {
    stop: &'a [String],
    released: usize,
    pending: String,
}

impl<'a> TextStream<'a> {
    fn new(stop: &'a [String]) -> Self {
        TextStream { stop, released: 0, pending: String::new() }
    }

    /// Takes the whole decoded text so far; returns the text to release now and the stop
    /// string reached, if one was (the text stops before it).
    fn advance(&mut self, decoded: &str) -> (String, Option<&'a str>) {
        // A character still being formed decodes as U+FFFD: wait for its other bytes.
        if decoded.ends_with('\u{FFFD}') || decoded.len() < self.released + self.pending.len() {
            return (String::new(), None);
        }
        self.pending = decoded[self.released..].to_string();
        let stop: &'a [String] = self.stop;
        let first = stop
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()).map(|at| (at, s.as_str())))
            .min_by_key(|(at, _)| *at);
        if let Some((at, stop)) = first {
            let out = self.pending[..at].to_string();
            self.pending.clear();
            return (out, Some(stop));
        }
        let hold = self
            .stop
            .iter()
            .flat_map(|s| {
                (1..s.len()).filter(move |&n| s.is_char_boundary(n)).map(move |n| &s[..n])
            })
            .filter(|prefix| self.pending.ends_with(prefix))
            .map(str::len)
            .max()
            .unwrap_or(0);
        let cut = self.pending.len() - hold;
        let out = self.pending[..cut].to_string();
        self.released += cut;
        self.pending = self.pending[cut..].to_string();
        (out, None)
    }

    fn flush(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_held_back_for_stop_strings_and_cut_before_them() {
        let stop = vec!["\nUser:".to_string()];
        let mut text = TextStream::new(&stop);
        assert_eq!(text.advance("Hello"), ("Hello".into(), None));
        assert_eq!(text.advance("Hello\nUs"), (String::new(), None));
        assert_eq!(text.advance("Hello\nUsual"), ("\nUsual".into(), None));
        assert_eq!(text.advance("Hello\nUsual\nUser: hi"), (String::new(), Some("\nUser:")));
    }

    #[test]
    fn incomplete_characters_wait_for_their_bytes() {
        let mut text = TextStream::new(&[]);
        assert_eq!(text.advance("caf"), ("caf".into(), None));
        assert_eq!(text.advance("caf\u{FFFD}"), (String::new(), None));
        assert_eq!(text.advance("café"), ("é".into(), None));
        assert_eq!(text.flush(), "");
    }
}
