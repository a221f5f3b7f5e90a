//! A web page as text for a model: laid out by `html2text`, unless the page nests its elements
//! so deep that the HTML parser's work grows with the square of the depth (100,000 nested
//! `<div>`s in a 500 KB page took minutes), or has so many that the layout's memory runs away
//! (about 2 KB an element: 55,000 `<b>`s took 220 MiB); such a page is reduced to its text in
//! one pass.

/// The deepest element nesting laid out; real pages stay well under a hundred levels.
const MAX_DEPTH: usize = 256;

/// The most elements laid out: a long article has a few thousand.
const MAX_ELEMENTS: usize = 20_000;

/// Elements that hold no content, and those whose end tag the parser implies (a `<li>` closes
/// the `<li>` before it): neither adds a level that stays open.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rb", "rt", "rp",
    "tbody", "thead", "tfoot", "colgroup", "caption", "!doctype",
];

/// The text of an HTML page, laid out `width` columns wide.
pub(crate) fn page_text(body: &[u8], width: usize) -> String {
    let (depth, elements) = shape(body);
    if depth > MAX_DEPTH || elements > MAX_ELEMENTS {
        return format!(
            "[the page has more than {MAX_ELEMENTS} elements or nests them more than {MAX_DEPTH} deep: its text only]\n{}",
            stripped(body)
        );
    }
    html2text::from_read(body, width).unwrap_or_else(|_| stripped(body))
}

/// The name of the tag that starts at `bytes` (just after its `<`), lowercased.
fn tag_name(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end.min(32)]).to_ascii_lowercase()
}

/// How deep the page's elements nest and how many it has, counted from its tags alone: one
/// level for each start tag that opens one, one less for each end tag. An upper bound on what
/// the parser builds.
fn shape(body: &[u8]) -> (usize, usize) {
    let (mut depth, mut deepest, mut elements) = (0usize, 0usize, 0usize);
    let mut at = 0;
    while let Some(offset) = body.get(at..).and_then(|rest| rest.iter().position(|&b| b == b'<')) {
        let tag = at + offset + 1;
        let end = body[tag..].iter().position(|&b| b == b'>').map_or(body.len(), |e| tag + e);
        match body.get(tag) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b) if b.is_ascii_alphabetic() => {
                elements += 1;
                let closed_in_place = end > tag && body[end - 1] == b'/';
                if !closed_in_place && !NOT_NESTING.contains(&tag_name(&body[tag..]).as_str()) {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
            // A `<` that starts no tag is text.
            _ => {
                at = tag;
                continue;
            }
        }
        at = end;
    }
    (deepest, elements)
}

/// The page's text without its tags, scripts and styles, with its common entities decoded and
/// its runs of blank space made one.
fn stripped(body: &[u8]) -> String {
    let page = String::from_utf8_lossy(body);
    let mut text = String::with_capacity(page.len() / 2);
    let mut rest = page.as_ref();
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        text.push(' ');
        let tag = &rest[start + 1..];
        let name = tag_name(tag.as_bytes());
        let after_tag = tag.find('>').map_or(tag.len(), |e| e + 1);
        rest = &tag[after_tag..];
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            rest = rest.find(&close).map_or("", |e| &rest[e..]);
        }
    }
    text.push_str(rest);
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_open_elements_not_void_or_implied_ones() {
        let page = b"<html><body><div><p>a<p>b<br><img src=x/></div></body></html>";
        assert_eq!(shape(page), (3, 7));
        assert_eq!(shape(b"<ul><li>a<li>b</ul><ul><li>c</ul>"), (1, 5));
        assert_eq!(shape("<div>".repeat(1000).as_bytes()), (1000, 1000));
        assert_eq!(shape(b"a < b, <3 and <div"), (1, 1));
    }

    #[test]
    fn a_deep_page_becomes_its_text_in_one_pass() {
        let deep = "<div>".repeat(300);
        let page =
            format!("{deep}Hello &amp; <b>welcome</b><script>var x = '<div>';</script> there");
        let text = page_text(page.as_bytes(), 100);
        assert!(text.starts_with("[the page has more than"), "{text}");
        assert!(text.ends_with("Hello & welcome there"), "{text}");
        let many = "<b>x</b> ".repeat(MAX_ELEMENTS + 1);
        assert!(page_text(many.as_bytes(), 100).starts_with("[the page has more than"));
    }

    #[test]
    fn a_usual_page_is_laid_out() {
        let text = page_text(b"<h1>Title</h1><ul><li>one<li>two</ul>", 100);
        assert!(text.contains("Title") && text.contains("* one"), "{text}");
    }
}
