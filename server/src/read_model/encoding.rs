//! Content codings of /search responses: which one a client asked for, and the
//! compression that makes it (gzip, brotli), once per response and snapshot.
//!
//! Compression happens on a client's demand, for windows the client chooses: its cost
//! is the client's to multiply. The levels are those that cost a few times the
//! rendering (gzip 6, brotli 5: ~2-4 % larger than the best, at a tenth or less of
//! its CPU), never the best ones (brotli 11 took 117 ms for a window that renders in
//! 0.5 ms).

use std::io::Write as _;

use axum::http::HeaderValue;
use bytes::Bytes;

/// gzip's level for /search bodies (zlib's default).
const GZIP_LEVEL: u32 = 6;

/// Brotli's quality for /search bodies, and its window (4 MiB).
const BROTLI_QUALITY: i32 = 5;
const BROTLI_WINDOW: i32 = 22;

/// A response's content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
    /// `Content-Encoding: br`.
    Brotli,
}

impl Encoding {
    /// The coding a client prefers among those served, from its `Accept-Encoding`
    /// (RFC 9110 §12.5.3): the highest q-value wins, ties go to the smaller output
    /// (br, then gzip, then identity). `*` stands for any coding not named.
    pub fn negotiate(accept: Option<&[u8]>) -> Self {
        let Some(accept) = accept else {
            return Self::Identity;
        };
        let (mut gzip, mut br, mut any) = (None, None, None);
        for part in accept.split(|&b| b == b',') {
            let mut pieces = part.split(|&b| b == b';');
            let coding = pieces.next().map(<[u8]>::trim_ascii).unwrap_or_default();
            let q = pieces
                .filter_map(|param| {
                    let param = param.trim_ascii();
                    let value = param.strip_prefix(b"q=").or_else(|| param.strip_prefix(b"Q="))?;
                    std::str::from_utf8(value).ok()?.trim().parse::<f32>().ok()
                })
                .next()
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                gzip = Some(q);
            } else if coding.eq_ignore_ascii_case(b"br") {
                br = Some(q);
            } else if coding == b"*" {
                any = Some(q);
            }
        }
        let br = br.or(any).unwrap_or(0.0);
        let gzip = gzip.or(any).unwrap_or(0.0);
        if br > 0.0 && br >= gzip {
            Self::Brotli
        } else if gzip > 0.0 {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    /// The `Content-Encoding` value; `None` for identity.
    pub fn header_value(self) -> Option<HeaderValue> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Brotli => Some(HeaderValue::from_static("br")),
        }
    }

    /// What the `ETag` of this coding ends with: each coding is its own representation.
    pub(super) fn tag_suffix(self) -> &'static str {
        match self {
            Self::Identity => "",
            Self::Gzip => "-gz",
            Self::Brotli => "-br",
        }
    }

    pub(super) fn index(self) -> usize {
        match self {
            Self::Identity => 0,
            Self::Gzip => 1,
            Self::Brotli => 2,
        }
    }
}

/// `body` compressed with `encoding`; `None` if that fails.
pub fn compress(encoding: Encoding, body: &[u8]) -> Option<Bytes> {
    match encoding {
        Encoding::Identity => Some(Bytes::copy_from_slice(body)),
        Encoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::new(GZIP_LEVEL),
            );
            encoder.write_all(body).ok()?;
            encoder.finish().ok().map(Bytes::from)
        }
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 4);
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_WINDOW,
                ..brotli::enc::BrotliEncoderParams::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
            Some(Bytes::from(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_picks_the_preferred_coding() {
        let pick = |value: &str| Encoding::negotiate(Some(value.as_bytes()));
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(pick(""), Encoding::Identity);
        assert_eq!(pick("gzip"), Encoding::Gzip);
        assert_eq!(pick("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(pick("br;q=0.5, gzip"), Encoding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(pick("GZIP;Q=0.8"), Encoding::Gzip);
        assert_eq!(pick("*"), Encoding::Brotli);
        assert_eq!(pick("br;q=0, *"), Encoding::Gzip);
        assert_eq!(pick("identity"), Encoding::Identity);
        assert_eq!(pick("deflate"), Encoding::Identity);
    }
}
