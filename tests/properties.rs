//! Property tests of the config loader over files made of the pieces real ones are made of:
//! each parses or is a `ConfigError` naming the file, never a panic.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::path::Path;

use anymodel::config::Config;
use proptest::prelude::*;

fn file() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[models.a]\n".to_string()),
        Just("[models.b]\n".to_string()),
        Just("[agents.x]\n".to_string()),
        Just("[tools.http]\n".to_string()),
        Just("backend = \"openai\"\n".to_string()),
        Just("backend = \"fallback\"\nmodels = [\"a\", \"b\"]\n".to_string()),
        Just(
            "backend = \"router\"\nmodels = [\"b\", \"a\"]\nmax_in_flight = 18446744073709551615\n"
                .to_string()
        ),
        Just("backend = \"candle\"\npath = \"m.gguf\"\n".to_string()),
        Just("model = \"m\"\n".to_string()),
        Just("temperature = inf\n".to_string()),
        Just("top_p = -3.0\n".to_string()),
        Just("retry = { max_retries = 4294967295 }\n".to_string()),
        Just("tools = [\"calculator\", \"shell\"]\n".to_string()),
        Just("default_model = \"a\"\n".to_string()),
        "[a-z_ =\"\\[\\]\n.0-9]{0,30}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..20).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_config_text_parses_or_names_the_file(text in file()) {
        if let Err(error) = Config::parse(Path::new("anymodel.toml"), &text) {
            prop_assert!(error.to_string().starts_with("anymodel.toml"), "{}", error);
        }
    }
}
