//! What a client sends, parsed as nats-server does: control lines up to 4096 bytes, then
//! the payload of PUB and HPUB. Partial input is a result (`None`), not an error.

/// One client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientOp {
    Connect(String),
    Pub { subject: String, reply: Option<String>, headers: Option<Vec<u8>>, payload: Vec<u8> },
    Sub { subject: String, queue: Option<String>, sid: String },
    Unsub { sid: String, max: Option<u64> },
    Ping,
    Pong,
}

/// Why the server closes the connection, with the `-ERR` it sends first (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// `-ERR '<text>'` then close.
    Err(&'static str),
    /// Closed with no `-ERR` (bad size fields, too many arguments).
    Silent,
}

pub(crate) const MAX_CONTROL_LINE: usize = 4096;

/// Parses one operation from the front of `buf`: `Ok(Some((op, used)))`, `Ok(None)` when
/// more bytes are needed.
pub(crate) fn parse(buf: &[u8], max_payload: usize) -> Result<Option<(ClientOp, usize)>, ParseError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(ParseError::Err("Maximum Control Line Exceeded"));
        }
        return Ok(None);
    };
    if end > MAX_CONTROL_LINE {
        return Err(ParseError::Err("Maximum Control Line Exceeded"));
    }
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| ParseError::Err("Unknown Protocol Operation"))?;
    let (verb, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    let args: Vec<&str> = rest.split([' ', '\t']).filter(|a| !a.is_empty()).collect();
    let used = end + 2;
    let size = |s: &str| s.parse::<usize>().map_err(|_| ParseError::Silent);
    let op = match verb.to_ascii_uppercase().as_str() {
        "CONNECT" => ClientOp::Connect(rest.to_owned()),
        "PING" => ClientOp::Ping,
        "PONG" => ClientOp::Pong,
        "SUB" => match args.as_slice() {
            [subject, sid] => ClientOp::Sub { subject: (*subject).into(), queue: None, sid: (*sid).into() },
            [subject, queue, sid] => {
                ClientOp::Sub { subject: (*subject).into(), queue: Some((*queue).into()), sid: (*sid).into() }
            }
            _ => return Err(ParseError::Silent),
        },
        "UNSUB" => match args.as_slice() {
            [sid] => ClientOp::Unsub { sid: (*sid).into(), max: None },
            [sid, max] => ClientOp::Unsub { sid: (*sid).into(), max: Some(size(max)? as u64) },
            _ => return Err(ParseError::Silent),
        },
        "PUB" | "HPUB" => {
            let hpub = verb.eq_ignore_ascii_case("HPUB");
            let (subject, reply, header_len, total) = match (hpub, args.as_slice()) {
                (false, [s, n]) => (*s, None, 0, size(n)?),
                (false, [s, r, n]) => (*s, Some(*r), 0, size(n)?),
                (true, [s, h, n]) => (*s, None, size(h)?, size(n)?),
                (true, [s, r, h, n]) => (*s, Some(*r), size(h)?, size(n)?),
                _ => return Err(ParseError::Silent),
            };
            if header_len > total {
                return Err(ParseError::Silent);
            }
            if total > max_payload {
                return Err(ParseError::Err("Maximum Payload Violation"));
            }
            if buf.len() < used + total + 2 {
                return Ok(None);
            }
            let body = &buf[used..used + total];
            if &buf[used + total..used + total + 2] != b"\r\n" {
                return Err(ParseError::Silent);
            }
            let op = ClientOp::Pub {
                subject: subject.into(),
                reply: reply.map(Into::into),
                headers: hpub.then(|| body[..header_len].to_vec()),
                payload: body[header_len..].to_vec(),
            };
            return Ok(Some((op, used + total + 2)));
        }
        _ => return Err(ParseError::Err("Unknown Protocol Operation")),
    };
    Ok(Some((op, used)))
}

#[cfg(test)]
mod tests {
    use super::{parse, ClientOp, ParseError};

    #[test]
    fn operations_partial_input_and_limits() {
        let op = |s: &str| parse(s.as_bytes(), 1024);
        assert_eq!(op("PING\r\n"), Ok(Some((ClientOp::Ping, 6))));
        assert_eq!(op("PI"), Ok(None));
        assert_eq!(op("PUB a 5\r\nhel"), Ok(None), "payload not all here");
        assert_eq!(
            op("PUB a r 5\r\nhello\r\nPING\r\n"),
            Ok(Some((
                ClientOp::Pub {
                    subject: "a".into(),
                    reply: Some("r".into()),
                    headers: None,
                    payload: b"hello".to_vec()
                },
                18
            )))
        );
        assert_eq!(
            op("HPUB a 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").map(|r| r.map(|(op, _)| op)),
            Ok(Some(ClientOp::Pub {
                subject: "a".into(),
                reply: None,
                headers: Some(b"NATS/1.0\r\n\r\n".to_vec()),
                payload: b"hi".to_vec()
            }))
        );
        assert_eq!(
            op("sub a.* q 7\r\n").map(|r| r.map(|(op, _)| op)),
            Ok(Some(ClientOp::Sub { subject: "a.*".into(), queue: Some("q".into()), sid: "7".into() }))
        );
        assert_eq!(op("PUB a 2000\r\n"), Err(ParseError::Err("Maximum Payload Violation")));
        assert_eq!(op("PUB a x\r\n"), Err(ParseError::Silent));
        assert_eq!(op("FOO\r\n"), Err(ParseError::Err("Unknown Protocol Operation")));
        assert_eq!(op(&"A".repeat(5000)), Err(ParseError::Err("Maximum Control Line Exceeded")));
    }
}
