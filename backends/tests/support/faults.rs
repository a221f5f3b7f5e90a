//! A server that misbehaves on purpose, over raw TCP, the ways networks and servers do: refusals
//! with any status, resets, cuts, stalls, trickles and floods.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server does once it has read a request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with this status and body.
    Status(u16, String),
    /// Resets the connection (a TCP RST) without a word.
    Reset,
    /// Closes the connection without a word.
    Close,
    /// Answers with bytes that are not HTTP, then closes.
    Garbage,
    /// Sends a 200 head that promises a longer body than the `body` it sends, then closes.
    CutBody(String),
    /// Says nothing, holding the connection open.
    Stall,
    /// Sends a 200 head of `content_type`, then `body`, then says nothing more, open.
    StallAfter { content_type: &'static str, body: String },
    /// Sends a 200 event-stream head, then `body`, then closes.
    CutAfter(String),
    /// Sends a 200 head of `content_type`, then `body` one byte each `every`, then closes.
    Trickle { content_type: &'static str, body: String, every: Duration },
    /// Sends a 200 head of `content_type`, then `piece` again and again, `every` apart (not at
    /// all for `Duration::ZERO`), until the client goes away.
    Repeat { content_type: &'static str, piece: String, every: Duration },
}

/// The media type of event streams.
pub const EVENTS: &str = "text/event-stream";
/// The media type of whole replies.
pub const JSON: &str = "application/json";

/// A server on loopback that answers every request with `fault`. Its base URL.
pub async fn faulty_server(fault: Fault) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer(socket, fault.clone()));
        }
    });
    format!("http://{address}")
}

/// Reads one request (its head, then as many body bytes as it declares).
async fn read_request(socket: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 8192];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    let head_end = text.find("\r\n\r\n").unwrap() + 4;
    let length = text
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut have = seen.len() - head_end;
    while have < length {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
}

fn head(status: u16, content_type: &str, length: Option<usize>) -> String {
    let length = length.map(|n| format!("content-length: {n}\r\n")).unwrap_or_default();
    format!(
        "HTTP/1.1 {status} Whatever\r\ncontent-type: {content_type}\r\n{length}connection: close\r\n\r\n"
    )
}

/// Waits until the client goes away.
async fn hold(socket: &mut TcpStream) {
    let mut buffer = [0u8; 1024];
    while matches!(socket.read(&mut buffer).await, Ok(n) if n > 0) {}
}

async fn answer(mut socket: TcpStream, fault: Fault) {
    read_request(&mut socket).await;
    let _ = match fault {
        Fault::Status(status, body) => {
            let content_type = if body.starts_with('{') { JSON } else { "text/html" };
            let reply = head(status, content_type, Some(body.len())) + &body;
            socket.write_all(reply.as_bytes()).await
        }
        Fault::Reset => socket.set_zero_linger(),
        Fault::Close => Ok(()),
        Fault::Garbage => socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\r\n\r\n").await,
        Fault::CutBody(body) => {
            let reply = head(200, JSON, Some(body.len() * 2 + 100)) + &body;
            socket.write_all(reply.as_bytes()).await
        }
        Fault::Stall => {
            hold(&mut socket).await;
            Ok(())
        }
        Fault::StallAfter { content_type, body } => {
            let reply = head(200, content_type, None) + &body;
            if socket.write_all(reply.as_bytes()).await.is_ok() {
                hold(&mut socket).await;
            }
            Ok(())
        }
        Fault::CutAfter(body) => {
            let reply = head(200, EVENTS, None) + &body;
            socket.write_all(reply.as_bytes()).await
        }
        Fault::Trickle { content_type, body, every } => {
            let mut result = socket.write_all(head(200, content_type, None).as_bytes()).await;
            for byte in body.bytes() {
                if result.is_err() {
                    break;
                }
                tokio::time::sleep(every).await;
                result = socket.write_all(&[byte]).await;
            }
            result
        }
        Fault::Repeat { content_type, piece, every } => {
            let mut result = socket.write_all(head(200, content_type, None).as_bytes()).await;
            while result.is_ok() {
                if !every.is_zero() {
                    tokio::time::sleep(every).await;
                }
                result = socket.write_all(piece.as_bytes()).await;
            }
            result
        }
    };
    let _ = socket.shutdown().await;
}
