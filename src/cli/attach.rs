//! `--attach`: images and documents given with a prompt, from files (their type read from their
//! first bytes) or addresses (the provider fetches them).

use std::io::Read;
use std::path::Path;

use anymodel::{Media, Part};

use super::Failure;

/// The largest file attached: providers take 5–50 MB per part, so more would only be refused
/// after the upload.
const MAX_ATTACHMENT_BYTES: u64 = 32 * 1024 * 1024;

/// The parts `--attach` gives, in order.
pub fn parts(attachments: &[String]) -> Result<Vec<Part>, Failure> {
    attachments.iter().map(|item| part(item)).collect()
}

fn part(item: &str) -> Result<Part, Failure> {
    if item.starts_with("https://") || item.starts_with("http://") {
        let media = Media::url(item);
        return Ok(if media.media_type.as_deref() == Some("application/pdf") {
            Part::Document { media, title: None }
        } else {
            Part::Image(media)
        });
    }
    let path = Path::new(item);
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::Usage(format!("--attach {item}: cannot open it: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_ATTACHMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::Usage(format!("--attach {item}: cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(Failure::Usage(format!(
            "--attach {item}: larger than {} MiB, more than providers take in one request",
            MAX_ATTACHMENT_BYTES / (1024 * 1024)
        )));
    }
    let Some(media_type) = sniff(&bytes) else {
        return Err(Failure::Usage(format!(
            "--attach {item}: not an image (PNG, JPEG, GIF, WebP) or a PDF by its first bytes; put text in the prompt instead"
        )));
    };
    let mut part = if media_type == "application/pdf" {
        Part::document(&bytes, media_type)
    } else {
        Part::image(&bytes, media_type)
    };
    if let Part::Document { title, .. } = &mut part {
        *title = path.file_name().map(|name| name.to_string_lossy().into_owned());
    }
    Ok(part)
}

/// The media type the first bytes announce, among those every provider with vision takes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 5] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
    ];
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    SIGNATURES.iter().find(|(magic, _)| bytes.starts_with(magic)).map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_from_the_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"hello"), None);
    }

    #[test]
    fn addresses_are_left_for_the_provider_to_fetch() {
        assert!(matches!(part("https://x.org/a.pdf?v=1").unwrap(), Part::Document { .. }));
        assert!(matches!(part("https://x.org/cat.jpg").unwrap(), Part::Image(_)));
        let missing = part("no/such/file.png").unwrap_err();
        assert!(matches!(missing, Failure::Usage(why) if why.contains("no/such/file.png")));
    }
}
