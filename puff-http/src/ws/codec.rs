//! The RFC 6455 frame codec: reading client frames into messages (masks removed, fragments
//! joined, pings answered, text checked as UTF-8, oversized messages refused) and writing
//! server frames.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Messages for whoever handles the connection (the ASGI app's `receive()`, a
/// [`super::WebSocket`]); `Connect` opens the ASGI conversation.
pub(crate) enum Incoming {
    Connect,
    Text(String),
    Binary(Bytes),
}

/// Frames for the client.
pub(crate) enum Outgoing {
    Text(String),
    Binary(Bytes),
    Pong(Bytes),
    Close(u16, String),
}

/// Why reading stopped.
pub(super) enum Stop {
    /// Peer closed with this code (1005 when it sent none).
    Closed(u16),
    /// We close with this code (protocol error, bad UTF-8, too big).
    Fail(u16),
    /// Connection gone.
    Gone,
}

pub(super) async fn read_messages<R: AsyncRead + Unpin>(
    read: &mut R,
    in_tx: &mpsc::Sender<Incoming>,
    out_tx: &mpsc::Sender<Outgoing>,
    max_message: usize,
) -> Stop {
    let mut message: Vec<u8> = Vec::new();
    let mut message_opcode: Option<u8> = None;
    loop {
        let mut head = [0u8; 2];
        if read.read_exact(&mut head).await.is_err() {
            return Stop::Gone;
        }
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        if head[0] & 0x70 != 0 || head[1] & 0x80 == 0 {
            // Reserved bits without an extension, or an unmasked client frame.
            return Stop::Fail(1002);
        }
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                if read.read_exact(&mut b).await.is_err() {
                    return Stop::Gone;
                }
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                if read.read_exact(&mut b).await.is_err() {
                    return Stop::Gone;
                }
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let control = opcode & 0x08 != 0;
        if control && (!fin || len > 125) {
            return Stop::Fail(1002);
        }
        match opcode {
            0x0 if message_opcode.is_none() => return Stop::Fail(1002),
            0x1 | 0x2 if message_opcode.is_some() => return Stop::Fail(1002),
            0x0..=0x2 | 0x8..=0xa => {}
            _ => return Stop::Fail(1002),
        }
        if !control && (message.len() as u64).saturating_add(len) > max_message as u64 {
            return Stop::Fail(1009);
        }
        let mut mask = [0u8; 4];
        if read.read_exact(&mut mask).await.is_err() {
            return Stop::Gone;
        }
        let mut payload = vec![0u8; len as usize];
        if read.read_exact(&mut payload).await.is_err() {
            return Stop::Gone;
        }
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match opcode {
            0x8 => {
                if payload.is_empty() {
                    return Stop::Closed(1005);
                }
                if payload.len() == 1 {
                    return Stop::Fail(1002);
                }
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if std::str::from_utf8(&payload[2..]).is_err() {
                    return Stop::Fail(1007);
                }
                let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
                return if valid {
                    Stop::Closed(code)
                } else {
                    Stop::Fail(1002)
                };
            }
            0x9 => {
                if out_tx.send(Outgoing::Pong(payload.into())).await.is_err() {
                    return Stop::Gone;
                }
                continue;
            }
            0xa => continue,
            0x0 => message.extend_from_slice(&payload),
            _ => {
                message_opcode = Some(opcode);
                message = payload;
            }
        }
        if !fin {
            continue;
        }
        let data = std::mem::take(&mut message);
        let event = match message_opcode.take() {
            Some(0x1) => match String::from_utf8(data) {
                Ok(text) => Incoming::Text(text),
                Err(_) => return Stop::Fail(1007),
            },
            _ => Incoming::Binary(data.into()),
        };
        if in_tx.send(event).await.is_err() {
            // The app is gone; close normally.
            return Stop::Fail(1000);
        }
    }
}

pub(super) async fn write_frame<W: AsyncWrite + Unpin>(
    write: &mut W,
    frame: Outgoing,
) -> std::io::Result<()> {
    let (opcode, payload): (u8, Vec<u8>) = match frame {
        Outgoing::Text(t) => (0x1, t.into_bytes()),
        Outgoing::Binary(b) => (0x2, b.to_vec()),
        Outgoing::Pong(b) => (0xa, b.to_vec()),
        Outgoing::Close(code, reason) => {
            let mut p = code.to_be_bytes().to_vec();
            // Control frames carry at most 125 bytes: trim the reason on a char boundary.
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            p.extend_from_slice(&reason.as_bytes()[..end]);
            (0x8, p)
        }
    };
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        frame.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        frame.push(126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&payload);
    write.write_all(&frame).await?;
    write.flush().await
}
