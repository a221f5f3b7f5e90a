//! What a user message or a tool result holds: text, images and documents, in order.
//!
//! Text alone stays the simple path: a [`Content`] made from a string serialises as that string,
//! so transcripts saved before parts existed load unchanged, and those without media still read
//! as before.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The content of a user message or a tool result: parts in the order the model reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Content {
    parts: Vec<Part>,
}

impl Content {
    /// Content of these parts.
    pub fn new(parts: impl IntoIterator<Item = Part>) -> Self {
        Content { parts: parts.into_iter().collect() }
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Adds a part at the end.
    pub fn push(&mut self, part: impl Into<Part>) {
        self.parts.push(part.into());
    }

    /// The same content with a part added at the end.
    pub fn with(mut self, part: impl Into<Part>) -> Self {
        self.push(part);
        self
    }

    /// The same content with these parts added at the end.
    pub fn with_all(mut self, parts: impl IntoIterator<Item = Part>) -> Self {
        self.parts.extend(parts);
        self
    }

    /// The text parts joined by blank lines: all of the content a text-only model can read.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.texts().collect();
        texts.join("\n\n")
    }

    /// The text parts, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// Whether the content is text alone (no image or document).
    pub fn is_text(&self) -> bool {
        self.parts.iter().all(|part| matches!(part, Part::Text { .. }))
    }

    /// Whether any part is an image.
    pub fn has_images(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Image(_)))
    }

    /// Whether any part is a document.
    pub fn has_documents(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Document { .. }))
    }

    /// The one text when the content is a single text part (or nothing: `""`), else `None`.
    pub fn as_text(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text { text }] => Some(text),
            _ => None,
        }
    }
}

/// The text, with each image or document shown as `[image: TYPE]` or `[document: TYPE]` where
/// it stands: for people reading a transcript.
impl std::fmt::Display for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            match part {
                Part::Text { text } => f.write_str(text)?,
                Part::Image(media) => write!(f, "[image: {}]", media.media_type_or_default())?,
                Part::Document { media, .. } => {
                    write!(f, "[document: {}]", media.media_type_or_default())?
                }
            }
        }
        Ok(())
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::from(text.to_string())
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content { parts: vec![Part::Text { text }] }
    }
}

impl From<&String> for Content {
    fn from(text: &String) -> Self {
        Content::from(text.clone())
    }
}

impl From<Part> for Content {
    fn from(part: Part) -> Self {
        Content { parts: vec![part] }
    }
}

impl From<Vec<Part>> for Content {
    fn from(parts: Vec<Part>) -> Self {
        Content { parts }
    }
}

impl PartialEq<str> for Content {
    fn eq(&self, other: &str) -> bool {
        self.as_text() == Some(other)
    }
}

impl PartialEq<String> for Content {
    fn eq(&self, other: &String) -> bool {
        self.as_text() == Some(other.as_str())
    }
}

impl PartialEq<&str> for Content {
    fn eq(&self, other: &&str) -> bool {
        self.as_text() == Some(*other)
    }
}

/// Text content is written as a plain string (as before parts existed); anything else as a list
/// of tagged parts.
impl Serialize for Content {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_text() {
            Some(text) => serializer.serialize_str(text),
            None => self.parts.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Parts(Vec<Part>),
        }
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Text(text) => Content::from(text),
            Wire::Parts(parts) => Content { parts },
        })
    }
}

/// One piece of [`Content`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image (PNG, JPEG, GIF or WebP as providers take them), for models with
    /// [`crate::Capabilities::vision`].
    Image(Media),
    /// A document (a PDF, most of all), for models with [`crate::Capabilities::documents`].
    Document {
        /// Where the document is.
        #[serde(flatten)]
        media: Media,
        /// Its title or file name, where the provider shows the model one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into() }
    }

    /// An image from its bytes, of this media type (`image/png`, say).
    pub fn image(bytes: &[u8], media_type: impl Into<String>) -> Self {
        Part::Image(Media::bytes(bytes, media_type))
    }

    /// An image the provider fetches from a URL (an `http(s)` address, or a `data:` URL).
    pub fn image_url(url: impl Into<String>) -> Self {
        Part::Image(Media::url(url))
    }

    /// A document from its bytes, of this media type (`application/pdf`, say).
    pub fn document(bytes: &[u8], media_type: impl Into<String>) -> Self {
        Part::Document { media: Media::bytes(bytes, media_type), title: None }
    }

    /// A document the provider fetches from a URL.
    pub fn document_url(url: impl Into<String>) -> Self {
        Part::Document { media: Media::url(url), title: None }
    }

    /// The image or document's media, `None` for text.
    pub fn media(&self) -> Option<&Media> {
        match self {
            Part::Text { .. } => None,
            Part::Image(media) | Part::Document { media, .. } => Some(media),
        }
    }
}

/// Where an image's or document's bytes are: inline (base64) or at a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// The media type (`image/png`, `application/pdf`); always set for inline bytes, and for a
    /// URL when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The bytes or their address.
    #[serde(flatten)]
    pub source: MediaSource,
}

/// The bytes of a [`Media`], or where to fetch them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    /// The bytes, base64-encoded (standard alphabet, padded), as every provider's wire takes them.
    Base64(String),
    /// An address the provider fetches.
    Url(String),
}

impl Media {
    /// Inline bytes of this media type.
    pub fn bytes(bytes: &[u8], media_type: impl Into<String>) -> Self {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Media { media_type: Some(media_type.into()), source: MediaSource::Base64(data) }
    }

    /// An address the provider fetches, its media type read from its extension where that
    /// names one (`.png`, `.jpg`, `.gif`, `.webp`, `.pdf`); a `data:` URL is read as inline
    /// bytes.
    pub fn url(url: impl Into<String>) -> Self {
        let url = url.into();
        if let Some((media_type, data)) = parse_data_url(&url) {
            return Media { media_type: Some(media_type), source: MediaSource::Base64(data) };
        }
        let media_type = media_type_of_address(&url).map(str::to_string);
        Media { media_type, source: MediaSource::Url(url) }
    }

    /// The media type, `application/octet-stream` when unknown.
    pub fn media_type_or_default(&self) -> &str {
        self.media_type.as_deref().unwrap_or("application/octet-stream")
    }

    /// The media as a `data:` URL for inline bytes, or its address: for wires that take either
    /// in one field (OpenAI's `image_url`).
    pub fn as_url(&self) -> String {
        match &self.source {
            MediaSource::Base64(data) => {
                format!("data:{};base64,{data}", self.media_type_or_default())
            }
            MediaSource::Url(url) => url.clone(),
        }
    }
}

/// The media type an address's extension names, among the types providers read.
fn media_type_of_address(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase();
    let (_, extension) = path.rsplit_once('.')?;
    Some(match extension {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

/// The media type and base64 data of a `data:TYPE;base64,DATA` URL.
fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    let media_type = header.strip_suffix(";base64")?;
    Some((media_type.to_string(), data.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_content_serialises_as_a_plain_string() {
        let content = Content::from("hello");
        assert_eq!(serde_json::to_value(&content).unwrap(), json!("hello"));
        let back: Content = serde_json::from_value(json!("hello")).unwrap();
        assert_eq!(back, content);
        assert_eq!(content, "hello");
    }

    #[test]
    fn parts_serialise_tagged_and_round_trip() {
        let content = Content::from("What is in it?")
            .with(Part::image(b"\x89PNG", "image/png"))
            .with(Part::document_url("https://example.com/a.pdf"));
        let value = serde_json::to_value(&content).unwrap();
        assert_eq!(
            value,
            json!([
                {"type": "text", "text": "What is in it?"},
                {"type": "image", "media_type": "image/png", "base64": "iVBORw=="},
                {"type": "document", "media_type": "application/pdf", "url": "https://example.com/a.pdf"},
            ])
        );
        let back: Content = serde_json::from_value(value).unwrap();
        assert_eq!(back, content);
        assert!(back.has_images() && back.has_documents() && !back.is_text());
        assert_eq!(back.text(), "What is in it?");
    }

    #[test]
    fn data_urls_become_inline_bytes() {
        let media = Media::url("data:image/jpeg;base64,/9j/");
        assert_eq!(media.media_type.as_deref(), Some("image/jpeg"));
        assert_eq!(media.source, MediaSource::Base64("/9j/".into()));
        assert_eq!(media.as_url(), "data:image/jpeg;base64,/9j/");
        assert_eq!(Media::url("https://x.org/A.PNG?s=1").media_type.as_deref(), Some("image/png"));
        assert_eq!(Media::url("https://x.org/page").media_type, None);
    }
}
