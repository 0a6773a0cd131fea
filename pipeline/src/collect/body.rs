//! Reading a request body under the size limit, and undoing its
//! compression: gzip (`Content-Encoding: gzip`) for line protocol and
//! JSON, snappy's block format for remote write. The limit holds for the
//! bytes received and again for the decompressed bytes, so that a small
//! compressed body cannot expand without bound.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use futures::StreamExt;

use super::answer::Answer;

/// How a body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Not compressed.
    Identity,
    /// gzip, possibly several members.
    Gzip,
    /// snappy's block (raw) format, as remote write uses it.
    Snappy,
}

impl Encoding {
    /// The `Content-Encoding` of `headers`, if it is one of `allowed`;
    /// `default` when the header is missing.
    pub(crate) fn of(
        headers: &HeaderMap,
        allowed: &[Encoding],
        default: Encoding,
    ) -> Result<Self, Answer> {
        let Some(value) = headers.get(CONTENT_ENCODING) else {
            return Ok(default);
        };
        let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
        let found = match value.as_str() {
            "" | "identity" => Some(Encoding::Identity),
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            "snappy" => Some(Encoding::Snappy),
            _ => None,
        };
        match found {
            Some(e) if allowed.contains(&e) => Ok(e),
            _ => {
                let names: Vec<&str> = allowed.iter().map(|e| e.name()).collect();
                Err(Answer::Unsupported(format!(
                    "Content-Encoding {value:?} is not supported here; use one of: {}",
                    names.join(", ")
                )))
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Snappy => "snappy",
        }
    }
}

/// Reads `body`, refusing with 413 as soon as it exceeds `max` bytes (or
/// its `Content-Length` says it will).
pub(crate) async fn read(body: Body, headers: &HeaderMap, max: usize) -> Result<Vec<u8>, Answer> {
    let too_large = || {
        Answer::TooLarge(format!(
            "request body larger than {max} bytes (--max-body-size); send smaller batches"
        ))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| Answer::BadRequest(format!("could not read the request body: {e}")))?;
        if out.len() + chunk.len() > max {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Undoes `encoding`, refusing with 413 when the result would exceed
/// `max` bytes and with 400 when the bytes are not what they claim.
pub(crate) fn decompress(raw: Vec<u8>, encoding: Encoding, max: usize) -> Result<Vec<u8>, Answer> {
    let too_large = || {
        Answer::TooLarge(format!(
            "request body larger than {max} bytes once decompressed (--max-body-size); \
             send smaller batches"
        ))
    };
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => {
            let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
            flate2::read::MultiGzDecoder::new(&raw[..])
                .take(max as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Answer::BadRequest(format!("the body is not valid gzip: {e}")))?;
            if out.len() > max {
                return Err(too_large());
            }
            Ok(out)
        }
        Encoding::Snappy => {
            let len = snap::raw::decompress_len(&raw).map_err(|e| {
                Answer::BadRequest(format!(
                    "the body is not snappy-compressed (block format): {e}"
                ))
            })?;
            if len > max {
                return Err(too_large());
            }
            snap::raw::Decoder::new().decompress_vec(&raw).map_err(|e| {
                Answer::BadRequest(format!(
                    "the body is not snappy-compressed (block format): {e}"
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_snappy_round_trip_within_the_limit() {
        let text = b"cpu,host=a usage=1 1\n".repeat(100);
        assert_eq!(
            decompress(gzip(&text), Encoding::Gzip, 10_000).unwrap(),
            text
        );
        let snappy = snap::raw::Encoder::new().compress_vec(&text).unwrap();
        assert_eq!(decompress(snappy, Encoding::Snappy, 10_000).unwrap(), text);
    }

    #[test]
    fn decompressed_size_is_limited() {
        let zeros = vec![0u8; 1_000_000];
        let small = gzip(&zeros);
        assert!(small.len() < 10_000);
        let e = decompress(small, Encoding::Gzip, 10_000).unwrap_err();
        assert!(matches!(e, Answer::TooLarge(_)), "{e:?}");
        let snappy = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
        let e = decompress(snappy, Encoding::Snappy, 10_000).unwrap_err();
        assert!(matches!(e, Answer::TooLarge(_)), "{e:?}");
        let e = decompress(b"not gzip".to_vec(), Encoding::Gzip, 10_000).unwrap_err();
        assert!(matches!(e, Answer::BadRequest(_)), "{e:?}");
    }

    #[test]
    fn encodings_are_checked() {
        let mut h = HeaderMap::new();
        let both = [Encoding::Identity, Encoding::Gzip];
        assert_eq!(
            Encoding::of(&h, &both, Encoding::Identity).unwrap(),
            Encoding::Identity
        );
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("GZIP"));
        assert_eq!(
            Encoding::of(&h, &both, Encoding::Identity).unwrap(),
            Encoding::Gzip
        );
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        let e = Encoding::of(&h, &both, Encoding::Identity).unwrap_err();
        assert!(
            matches!(e, Answer::Unsupported(ref m) if m.contains("\"br\"")),
            "{e:?}"
        );
    }
}
