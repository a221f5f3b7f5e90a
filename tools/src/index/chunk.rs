//! Cutting a document into passages by its structure: Markdown sections, paragraphs and fenced
//! code blocks, or blank-line separated blocks of code and plain text, packed up to a target
//! size with a little overlap. Every chunk is a contiguous slice of the document, so its line and
//! byte ranges point exactly at what it holds.

use std::ops::Range;

/// How big chunks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// The size a chunk is filled up to, in bytes. A single line longer than this is cut.
    pub target_bytes: usize,
    /// How much of the end of a chunk the next one repeats, in bytes of whole lines, so that a
    /// passage cut in two can still be found by words on both sides. Never across a heading.
    pub overlap_bytes: usize,
}

impl Default for ChunkOptions {
    /// About 300 tokens a chunk, 50 of them shared with the previous one.
    fn default() -> Self {
        ChunkOptions { target_bytes: 1200, overlap_bytes: 200 }
    }
}

/// How a document's structure is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// `#` headings start sections; fenced code blocks are kept whole where they fit.
    Markdown,
    /// Blocks are separated by blank lines (code, plain text, records).
    Plain,
}

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Where it lies in the document, in bytes.
    pub bytes: Range<usize>,
    /// Its first and last line, from 1.
    pub lines: (u32, u32),
    /// The headings it sits under, outermost first (Markdown only).
    pub headings: Vec<String>,
}

impl Chunk {
    /// Its text, from the document it was cut from.
    pub fn text<'a>(&self, document: &'a str) -> &'a str {
        &document[self.bytes.clone()]
    }
}

/// A piece that is never split further unless it is too big: a heading, a paragraph, a code
/// block, a line or part of a line.
#[derive(Debug, Clone)]
struct Block {
    bytes: Range<usize>,
    /// The headings in force at this block (a heading block includes itself).
    headings: Vec<String>,
    /// Whether the block opens a section, so a chunk should start with it.
    heading: bool,
}

/// Cuts `text` into chunks. Blank text gives none.
pub fn chunk(text: &str, structure: Structure, options: ChunkOptions) -> Vec<Chunk> {
    let target = options.target_bytes.max(1);
    let lines = LineIndex::new(text);
    let blocks =
        blocks(text, structure).into_iter().flat_map(|block| split_block(text, block, target));

    let mut chunks: Vec<Chunk> = Vec::new();
    // The open chunk: where it starts, where its last block ends, its headings, and whether it
    // holds nothing but headings so far (then it takes the next block whatever its size).
    let mut open: Option<(usize, usize, Vec<String>, bool)> = None;
    for block in blocks {
        if let Some((start, end, headings, only_headings)) = &mut open {
            let new_section = block.heading && !*only_headings;
            if !new_section && (*only_headings || block.bytes.end - *start <= target) {
                *end = block.bytes.end;
                if *only_headings && !block.heading {
                    *headings = block.headings;
                    *only_headings = false;
                }
                continue;
            }
            let Some(closed) = make_chunk(text, &lines, *start..*end, std::mem::take(headings))
            else {
                continue;
            };
            let overlap = if new_section {
                None
            } else {
                overlap_start(text, &closed.bytes, options.overlap_bytes)
            };
            chunks.push(closed);
            // The overlap stays only if the block still fits after it.
            let start =
                overlap.filter(|&at| block.bytes.end - at <= target).unwrap_or(block.bytes.start);
            open = Some((start, block.bytes.end, block.headings, block.heading));
        } else {
            open = Some((block.bytes.start, block.bytes.end, block.headings, block.heading));
        }
    }
    if let Some((start, end, headings, _)) = open {
        chunks.extend(make_chunk(text, &lines, start..end, headings));
    }
    chunks
}

/// The chunk of `bytes` less the blank lines around it; `None` when nothing is left.
fn make_chunk(
    text: &str,
    lines: &LineIndex,
    bytes: Range<usize>,
    headings: Vec<String>,
) -> Option<Chunk> {
    let slice = &text[bytes.clone()];
    let start = bytes.start + (slice.len() - slice.trim_start_matches(['\n', '\r']).len());
    let end = bytes.start + slice.trim_end().len();
    (start < end).then(|| Chunk {
        lines: (lines.line_of(start), lines.line_of(end - 1)),
        bytes: start..end,
        headings,
    })
}

/// Where the overlap after `chunk` begins: the start of the earliest of its lines such that the
/// lines from there to its end take at most `overlap` bytes. `None` when no line fits, or when
/// all of them would (the next chunk would repeat this one whole).
fn overlap_start(text: &str, chunk: &Range<usize>, overlap: usize) -> Option<usize> {
    let mut from = None;
    let mut cursor = chunk.end;
    while cursor > chunk.start {
        let line_start =
            text[chunk.start..cursor].rfind('\n').map_or(chunk.start, |at| chunk.start + at + 1);
        if line_start == chunk.start || chunk.end - line_start > overlap {
            break;
        }
        from = Some(line_start);
        cursor = line_start - 1;
    }
    from
}

/// The document's blocks in order, with the line breaks that end them.
fn blocks(text: &str, structure: Structure) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut open: Option<usize> = None; // start of the paragraph or code block being read
    let mut fence: Option<&str> = None; // the fence of the code block being read
    let mut offset = 0;
    let current = |headings: &Vec<(usize, String)>| {
        headings.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>()
    };
    for line in text.split_inclusive('\n') {
        let line_bytes = offset..offset + line.len();
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start();
        if let Some(marker) = fence {
            let closing = trimmed.trim_end();
            if closing.len() >= marker.len()
                && closing.bytes().all(|b| Some(b) == marker.bytes().next())
            {
                fence = None;
                if let Some(start) = open.take() {
                    blocks.push(Block {
                        bytes: start..line_bytes.end,
                        headings: current(&headings),
                        heading: false,
                    });
                }
            }
            continue;
        }
        if structure == Structure::Markdown {
            if let Some(marker) = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m)) {
                if let Some(start) = open.take() {
                    blocks.push(Block {
                        bytes: start..line_bytes.start,
                        headings: current(&headings),
                        heading: false,
                    });
                }
                open = Some(line_bytes.start);
                fence = Some(marker);
                continue;
            }
            if let Some((level, title)) = heading(content) {
                if let Some(start) = open.take() {
                    blocks.push(Block {
                        bytes: start..line_bytes.start,
                        headings: current(&headings),
                        heading: false,
                    });
                }
                headings.retain(|(l, _)| *l < level);
                headings.push((level, title.to_string()));
                blocks.push(Block {
                    bytes: line_bytes,
                    headings: current(&headings),
                    heading: true,
                });
                continue;
            }
        }
        if trimmed.is_empty() {
            if let Some(start) = open.take() {
                blocks.push(Block {
                    bytes: start..line_bytes.start,
                    headings: current(&headings),
                    heading: false,
                });
            }
            continue;
        }
        if open.is_none() {
            open = Some(line_bytes.start);
        }
    }
    if let Some(start) = open {
        blocks.push(Block {
            bytes: start..text.len(),
            headings: current(&headings),
            heading: false,
        });
    }
    blocks
}

/// An ATX heading: its level and its text.
fn heading(line: &str) -> Option<(usize, &str)> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then_some((hashes, title))
}

/// A block as pieces of at most `target` bytes: whole when it fits, else its lines, and a line
/// longer than that cut at spaces (or anywhere, at a character boundary).
fn split_block(text: &str, block: Block, target: usize) -> Vec<Block> {
    if block.bytes.len() <= target {
        return vec![block];
    }
    let mut pieces = Vec::new();
    let mut offset = block.bytes.start;
    for line in text[block.bytes.clone()].split_inclusive('\n') {
        let mut rest = offset..offset + line.len();
        offset += line.len();
        while rest.len() > target {
            let slice = &text[rest.clone()];
            let limit = match floor_boundary(slice, target) {
                0 => ceil_boundary(slice, 1),
                limit => limit,
            };
            // Cut after the last space that fits (one just past the limit counts too).
            let cut = if slice[limit..].starts_with(' ') {
                limit + 1
            } else {
                slice[..limit].rfind(' ').map_or(limit, |at| at + 1)
            };
            pieces.push(Block {
                bytes: rest.start..rest.start + cut,
                headings: block.headings.clone(),
                heading: false,
            });
            rest.start += cut;
        }
        if !rest.is_empty() {
            pieces.push(Block { bytes: rest, headings: block.headings.clone(), heading: false });
        }
    }
    if let Some(first) = pieces.first_mut() {
        first.heading = block.heading;
    }
    pieces
}

/// The largest character boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// The smallest character boundary of `text` at or above `at`.
fn ceil_boundary(text: &str, at: usize) -> usize {
    (at..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len())
}

/// Line numbers of byte offsets.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect();
        LineIndex { starts }
    }

    /// The line (from 1) holding byte `at`.
    fn line_of(&self, at: usize) -> u32 {
        let line = self.starts.partition_point(|&start| start <= at);
        u32::try_from(line).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = "# Guide\n\nIntro paragraph.\n\n## Install\n\nRun the installer.\nThen restart.\n\n```sh\nmake\n\nmake install\n```\n\n## Use\n\nType a question.\n";

    fn summary(text: &str, chunks: &[Chunk]) -> Vec<(String, (u32, u32), String)> {
        chunks.iter().map(|c| (c.text(text).to_string(), c.lines, c.headings.join(" > "))).collect()
    }

    #[test]
    fn markdown_sections_start_chunks_and_keep_their_heading_path() {
        let chunks =
            chunk(GUIDE, Structure::Markdown, ChunkOptions { target_bytes: 200, overlap_bytes: 0 });
        let expected = [
            ("# Guide\n\nIntro paragraph.", (1, 3), "Guide"),
            (
                "## Install\n\nRun the installer.\nThen restart.\n\n```sh\nmake\n\nmake install\n```",
                (5, 14),
                "Guide > Install",
            ),
            ("## Use\n\nType a question.", (16, 18), "Guide > Use"),
        ];
        let expected: Vec<_> =
            expected.iter().map(|(t, l, h)| (t.to_string(), *l, h.to_string())).collect();
        assert_eq!(summary(GUIDE, &chunks), expected);
    }

    #[test]
    fn a_code_block_is_not_cut_at_its_blank_line() {
        // Small chunks: every block alone, and the fenced block stays whole despite its blank line.
        let chunks =
            chunk(GUIDE, Structure::Markdown, ChunkOptions { target_bytes: 40, overlap_bytes: 0 });
        let texts: Vec<&str> = chunks.iter().map(|c| c.text(GUIDE)).collect();
        assert!(texts.contains(&"```sh\nmake\n\nmake install\n```"), "{texts:#?}");
        let code = chunks.iter().find(|c| c.text(GUIDE).starts_with("```")).unwrap();
        assert_eq!((code.lines, code.headings.join(" > ").as_str()), ((10, 14), "Guide > Install"));
        assert_eq!(code.bytes.start, GUIDE.find("```").unwrap());
    }

    #[test]
    fn byte_and_line_ranges_point_at_the_text() {
        for target in [10, 25, 60, 1000] {
            for chunk in chunk(
                GUIDE,
                Structure::Markdown,
                ChunkOptions { target_bytes: target, overlap_bytes: 12 },
            ) {
                let before = &GUIDE[..chunk.bytes.start];
                assert_eq!(before.matches('\n').count() as u32 + 1, chunk.lines.0, "{chunk:?}");
                let through = &GUIDE[..chunk.bytes.end];
                assert_eq!(through.matches('\n').count() as u32 + 1, chunk.lines.1, "{chunk:?}");
            }
        }
    }

    const CODE: &str = "use std::io;\n\n/// Reads.\nfn read_config() {\n    let a = 1;\n}\n\nfn parse_args() {\n    let b = 2;\n}\n\nfn main() {\n    read_config();\n}\n";

    #[test]
    fn code_is_cut_between_blocks_with_whole_line_overlap() {
        let chunks =
            chunk(CODE, Structure::Plain, ChunkOptions { target_bytes: 61, overlap_bytes: 15 });
        let expected = [
            ("use std::io;\n\n/// Reads.\nfn read_config() {\n    let a = 1;\n}", (1, 6)),
            // The last line of the chunk before (`}`) is repeated; a heading-less file has no path.
            ("}\n\nfn parse_args() {\n    let b = 2;\n}", (6, 10)),
            ("}\n\nfn main() {\n    read_config();\n}", (10, 14)),
        ];
        let got: Vec<(&str, (u32, u32))> = chunks.iter().map(|c| (c.text(CODE), c.lines)).collect();
        assert_eq!(got, expected);
        assert!(chunks.iter().all(|c| c.headings.is_empty()));
    }

    #[test]
    fn a_line_longer_than_the_target_is_cut_at_spaces() {
        let text = "alpha beta gamma delta epsilon zeta eta theta";
        let chunks =
            chunk(text, Structure::Plain, ChunkOptions { target_bytes: 12, overlap_bytes: 0 });
        let pieces: Vec<&str> = chunks.iter().map(|c| c.text(text)).collect();
        assert_eq!(pieces, ["alpha beta", "gamma delta", "epsilon zeta", "eta theta"]);
        assert!(chunks.iter().all(|c| c.lines == (1, 1)));
        let wide = "ééééé";
        let chunks =
            chunk(wide, Structure::Plain, ChunkOptions { target_bytes: 3, overlap_bytes: 0 });
        assert_eq!(chunks.iter().map(|c| c.text(wide)).collect::<String>(), wide);
    }

    #[test]
    fn blank_text_gives_no_chunks() {
        assert!(chunk("\n\n  \n", Structure::Markdown, ChunkOptions::default()).is_empty());
        assert!(chunk("", Structure::Plain, ChunkOptions::default()).is_empty());
    }
}
