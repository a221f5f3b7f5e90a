//! The local backend's arithmetic against llama.cpp's, run by `scripts/check-logprobs.sh`
//! (it builds llama.cpp and names the files): for each GGUF file in `$LOGPROB_MODELS`, the
//! next-token log-probabilities after a fixed prompt from anymodel and from llama.cpp
//! (`$LLAMA_LOGPROBS`, the script's `llama-logprobs`) must agree: the same most likely token,
//! a divergence under [`MAX_KL`], no probability off by more than
//! [`MAX_PROBABILITY_DIFFERENCE`]. Both quantise activations to 8 bits and keep the cache in half
//! precision, but round and sum in different orders, so they agree closely but not exactly.

use std::path::Path;
use std::process::Command;

use anymodel_candle::next_token_logprobs;

/// The largest Kullback-Leibler divergence allowed of anymodel's distribution from llama.cpp's.
const MAX_KL: f64 = 1e-3;
/// The largest difference allowed in any token's probability.
const MAX_PROBABILITY_DIFFERENCE: f64 = 0.01;
/// A fixed prompt, as token ids that every vocabulary here has (Llama 3's 128,256 and SmolLM2's
/// 49,152; the synthetic weights are random anyway).
const PROMPT: [u32; 24] = [
    1, 791, 6864, 315, 9822, 374, 12366, 13, 578, 6864, 315, 15704, 374, 22463, 13, 578, 6864, 315,
    9635, 374, 19335, 13, 578, 6864,
];
const THREADS: usize = 2;

fn llama_cpp(tool: &str, model: &Path) -> Vec<f32> {
    let output = Command::new(tool)
        .arg(model)
        .arg(THREADS.to_string())
        .args(PROMPT.iter().map(u32::to_string))
        .output()
        .expect("llama-logprobs runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("llama-logprobs prints a JSON array")
}

/// How the two distributions differ: the Kullback-Leibler divergence of anymodel's from
/// llama.cpp's (nats), the largest difference in any token's probability, and whether the most
/// likely token is the same.
fn compare(ours: &[f32], theirs: &[f32]) -> (f64, f64, bool) {
    let kl = theirs.iter().zip(ours).map(|(&t, &o)| f64::from(t).exp() * f64::from(t - o)).sum();
    let dp = theirs
        .iter()
        .zip(ours)
        .map(|(&t, &o)| (f64::from(t).exp() - f64::from(o).exp()).abs())
        .fold(0.0, f64::max);
    let first = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0);
    (kl, dp, first(ours) == first(theirs))
}

#[test]
#[ignore = "needs llama.cpp and the model files: scripts/check-logprobs.sh runs it"]
fn next_token_logprobs_agree_with_llama_cpp() {
    let tool = std::env::var("LLAMA_LOGPROBS").expect("LLAMA_LOGPROBS names llama-logprobs");
    let models = std::env::var("LOGPROB_MODELS").expect("LOGPROB_MODELS names the files");
    let mut failures = Vec::new();
    for model in models.split(':').map(Path::new) {
        let theirs = llama_cpp(&tool, model);
        let ours = next_token_logprobs(model, &PROMPT, THREADS).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{}: vocabulary sizes", model.display());
        let (kl, dp, same_first) = compare(&ours, &theirs);
        println!(
            "{}: KL divergence {kl:.2e} nats, largest probability difference {dp:.2e}, same most likely token: {same_first}",
            model.display()
        );
        if kl > MAX_KL || dp > MAX_PROBABILITY_DIFFERENCE || !same_first {
            failures.push(model.display().to_string());
        }
    }
    assert!(failures.is_empty(), "beyond the tolerances: {failures:?}");
}
