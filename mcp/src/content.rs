//! A tool result as an MCP server sends it (`content` blocks, `structuredContent`, `isError`),
//! read from its JSON form (the protocol's, not the SDK's types) into what the model receives:
//! text, images and documents as message parts, embedded resources, typed output.

use anymodel_core::{Content, Media, MediaSource, Part, Redactor, content_output};
use serde_json::Value;

/// The most base64 bytes of images and documents one result passes on; beyond, each further
/// one is named in the text instead.
const MAX_MEDIA_BYTES: usize = 16 * 1024 * 1024;

/// What a call gave: the output for the model, or, with `isError`, the error text the model
/// receives to correct its call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool's result: a string, typed JSON (`structuredContent`), or text with media (a
    /// [`content_output`]).
    Output(Value),
    /// The tool reported failure (`isError: true`): its text.
    ToolError(String),
}

impl Outcome {
    /// The outcome with `redactor`'s secrets scrubbed from every string in it.
    pub(crate) fn scrubbed(self, redactor: &Redactor) -> Outcome {
        match self {
            Outcome::Output(value) => Outcome::Output(scrub_value(redactor, value)),
            Outcome::ToolError(text) => Outcome::ToolError(redactor.scrub(text)),
        }
    }
}

fn scrub_value(redactor: &Redactor, value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(redactor.scrub(text)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| scrub_value(redactor, v)).collect())
        }
        Value::Object(object) => {
            Value::Object(object.into_iter().map(|(k, v)| (k, scrub_value(redactor, v))).collect())
        }
        other => other,
    }
}

/// Reads a `CallToolResult`; text beyond `max_text` bytes is cut with a note.
pub(crate) fn outcome(result: &Value, max_text: usize) -> Outcome {
    let mut text = Text::new(max_text);
    let mut media = Vec::new();
    let mut media_bytes = 0;
    for block in result.get("content").and_then(Value::as_array).into_iter().flatten() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let str_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("");
        match kind {
            "text" => text.push(str_of("text")),
            "image" | "audio" => {
                let (data, mime) = (str_of("data"), str_of("mimeType"));
                attach(kind, data, mime, None, &mut media, &mut media_bytes, &mut text);
            }
            "resource" => {
                let resource = block.get("resource").unwrap_or(&Value::Null);
                let str_in = |key: &str| resource.get(key).and_then(Value::as_str).unwrap_or("");
                let uri = str_in("uri");
                if let Some(body) = resource.get("text").and_then(Value::as_str) {
                    text.push(&format!("[resource {uri}]\n{body}"));
                } else {
                    let (data, mime) = (str_in("blob"), str_in("mimeType"));
                    attach(
                        "resource",
                        data,
                        mime,
                        Some(uri),
                        &mut media,
                        &mut media_bytes,
                        &mut text,
                    );
                }
            }
            "resource_link" => {
                let described = [str_of("name"), str_of("description")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ");
                text.push(&format!("[resource link {}] {described}", str_of("uri")));
            }
            other => text.push(&format!("[a content block of type `{other}`, not shown]")),
        }
    }
    let structured = result.get("structuredContent").filter(|v| !v.is_null());
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        let message = match (text.is_empty(), structured) {
            (true, Some(value)) => value.to_string(),
            (true, None) => "the tool failed and said nothing more".to_string(),
            _ => text.finish(),
        };
        return Outcome::ToolError(message);
    }
    if let Some(value) = structured
        && media.is_empty()
        && value.to_string().len() <= max_text
    {
        return Outcome::Output(value.clone());
    }
    if text.is_empty()
        && let Some(value) = structured
    {
        text.push(&value.to_string());
    }
    if media.is_empty() {
        return Outcome::Output(Value::String(text.finish()));
    }
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(Part::text(text.finish()));
    }
    parts.extend(media);
    Outcome::Output(content_output(Content::new(parts)))
}

/// An image, audio clip or binary resource: images and PDFs become parts, within
/// [`MAX_MEDIA_BYTES`]; anything else is named in the text.
fn attach(
    kind: &str,
    data: &str,
    mime: &str,
    uri: Option<&str>,
    media: &mut Vec<Part>,
    media_bytes: &mut usize,
    text: &mut Text,
) {
    let what = match uri {
        Some(uri) => format!("{kind} {uri}"),
        None => kind.to_string(),
    };
    let fits = *media_bytes + data.len() <= MAX_MEDIA_BYTES;
    let inline =
        Media { media_type: Some(mime.to_string()), source: MediaSource::Base64(data.to_string()) };
    if mime.starts_with("image/") && fits {
        *media_bytes += data.len();
        media.push(Part::Image(inline));
    } else if mime == "application/pdf" && fits {
        *media_bytes += data.len();
        media.push(Part::Document { media: inline, title: uri.map(str::to_string) });
    } else {
        let why = if fits { "not shown" } else { "left out: the result's media are too large" };
        text.push(&format!("[{what}: {mime}, {} bytes base64, {why}]", data.len()));
    }
}

/// Text blocks joined by newlines, cut at a byte limit (on a character boundary).
struct Text {
    text: String,
    limit: usize,
    left_out: usize,
}

impl Text {
    fn new(limit: usize) -> Self {
        Text { text: String::new(), limit, left_out: 0 }
    }

    fn is_empty(&self) -> bool {
        self.text.is_empty() && self.left_out == 0
    }

    fn push(&mut self, piece: &str) {
        let joiner = if self.text.is_empty() { "" } else { "\n" };
        let room = self.limit.saturating_sub(self.text.len() + joiner.len());
        if self.left_out > 0 || room == 0 {
            self.left_out += piece.len();
            return;
        }
        let mut end = piece.len().min(room);
        while !piece.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(joiner);
        self.text.push_str(&piece[..end]);
        self.left_out += piece.len() - end;
    }

    fn finish(mut self) -> String {
        if self.left_out > 0 {
            self.text.push_str(&format!(
                "\n[the result was cut here: {} more bytes were left out]",
                self.left_out
            ));
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use anymodel_core::output_content;
    use serde_json::json;

    use super::*;

    #[test]
    fn text_blocks_join_and_long_text_is_cut_with_a_note() {
        let result =
            json!({"content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]});
        assert_eq!(outcome(&result, 100), Outcome::Output(json!("one\ntwo")));
        let long = json!({"content": [{"type": "text", "text": "é".repeat(100)}]});
        let Outcome::Output(Value::String(text)) = outcome(&long, 51) else { panic!() };
        assert!(text.starts_with(&"é".repeat(25)), "{text}");
        assert!(text.ends_with("150 more bytes were left out]"), "{text}");
    }

    #[test]
    fn is_error_is_a_tool_error_with_its_text() {
        let result =
            json!({"content": [{"type": "text", "text": "no such city"}], "isError": true});
        assert_eq!(outcome(&result, 100), Outcome::ToolError("no such city".into()));
    }

    #[test]
    fn structured_content_is_the_typed_output() {
        let result = json!({"content": [{"type": "text", "text": "{\"t\":21}"}], "structuredContent": {"t": 21}});
        assert_eq!(outcome(&result, 100), Outcome::Output(json!({"t": 21})));
    }

    #[test]
    fn images_and_pdfs_become_parts_and_resources_text() {
        let result = json!({"content": [
            {"type": "text", "text": "a chart"},
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "hello"}},
            {"type": "resource", "resource": {"uri": "file:///r.pdf", "blob": "JVBERg==", "mimeType": "application/pdf"}},
            {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///b", "name": "b"}
        ]});
        let Outcome::Output(output) = outcome(&result, 1000) else { panic!() };
        let content = output_content(&output);
        let parts = content.parts();
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(
            parts[0],
            Part::text(
                "a chart\n[resource file:///a.txt]\nhello\n[audio: audio/wav, 4 bytes base64, not shown]\n[resource link file:///b] b"
            )
        );
        assert!(
            matches!(&parts[1], Part::Image(media) if media.media_type.as_deref() == Some("image/png"))
        );
        assert!(matches!(&parts[2], Part::Document { title: Some(t), .. } if t == "file:///r.pdf"));
    }
}
