//! Property tests of the chunker over arbitrary documents: no panic, and every chunk a valid
//! range of the text, on character boundaries, within the lines it claims.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use anymodel_tools::index::{ChunkOptions, Structure, chunk};
use proptest::prelude::*;

/// Text made of the pieces documents are made of, so that headings, fences and blank lines
/// come up often, with arbitrary characters between.
fn document() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just("# ".to_string()),
        Just("## Heading\n".to_string()),
        Just("```\n".to_string()),
        Just("    code\n".to_string()),
        "[a-z ]{0,40}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn chunks_are_valid_ranges_of_any_document(
        text in document(),
        markdown in any::<bool>(),
        target in 1usize..400,
        overlap in 0usize..200,
    ) {
        let structure = if markdown { Structure::Markdown } else { Structure::Plain };
        let options = ChunkOptions { target_bytes: target, overlap_bytes: overlap };
        for piece in chunk(&text, structure, options) {
            prop_assert!(piece.bytes.start <= piece.bytes.end && piece.bytes.end <= text.len());
            prop_assert!(text.is_char_boundary(piece.bytes.start));
            prop_assert!(text.is_char_boundary(piece.bytes.end));
            prop_assert!(piece.lines.0 <= piece.lines.1);
        }
    }
}
