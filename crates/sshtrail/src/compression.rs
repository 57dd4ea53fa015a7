//! Compressed trail logs (`0.jsonl.gz`, `0.hex.zst`), told by their first
//! bytes and decompressed as they are read, and other binary files told
//! apart from trail logs.
//!
//! Archives keep trails compressed. Every log the library opens goes
//! through [`decompressing`]: gzip (multi-member, as `cat a.gz b.gz` and
//! `pigz` make) and zstd (several frames) are decompressed in a stream, a
//! read chunk at a time, so that memory does not grow with the log; any
//! other input is handed on as it is. The layout is told by the magic bytes,
//! never by the name alone: a gzip file named `0.jsonl` is still read.
//!
//! A file that is binary data of a known kind (a PNG, an ELF, a zip) is
//! refused at once with what it is, rather than reported line by line as a
//! bad trail.
//!
//! ```
//! use std::io::{Read, Write};
//! use sshtrail::compression::decompressing;
//!
//! let log = b"2023-06-07T17:32:29Z stdin 6c\n";
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! gz.write_all(log).unwrap();
//! let gz = gz.finish().unwrap();
//! let mut text = Vec::new();
//! decompressing(Box::new(std::io::Cursor::new(gz))).unwrap().read_to_end(&mut text).unwrap();
//! assert_eq!(text, log);
//!
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
//! let e = decompressing(Box::new(std::io::Cursor::new(png))).err().unwrap();
//! assert_eq!(e.to_string(), "this is PNG image data, not a trail log");
//! ```

use std::fmt;
use std::io::{self, BufReader, Read};

/// A compressed layout a trail log may be kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (RFC 1952), one member or several back to back.
    Gzip,
    /// Zstandard (RFC 8878), one frame or several.
    Zstd,
}

impl Compression {
    /// The compression whose magic bytes `start` begins with.
    ///
    /// ```
    /// use sshtrail::compression::Compression;
    /// assert_eq!(Compression::detect(b"\x1f\x8b\x08\0"), Some(Compression::Gzip));
    /// assert_eq!(Compression::detect(b"\x28\xb5\x2f\xfd"), Some(Compression::Zstd));
    /// assert_eq!(Compression::detect(b"{\"type\""), None);
    /// ```
    pub fn detect(start: &[u8]) -> Option<Compression> {
        match start {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            // A skippable frame (0x184D2A50 to 0x184D2A5F, little-endian):
            // zstd streams may begin with one.
            [m, 0x2a, 0x4d, 0x18, ..] if m & 0xf0 == 0x50 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// `gzip` or `zstd`, as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// File extensions of compressed logs (`0.jsonl.gz`): found in folders when
/// a log extension comes before them, and left out of the channel's name.
pub const COMPRESSED_EXTENSIONS: [&str; 3] = ["gz", "zst", "zstd"];

/// The file name without a compressed extension: `0.jsonl` for
/// `0.jsonl.gz`, the name itself for any other.
///
/// ```
/// use sshtrail::compression::without_compressed_extension;
/// assert_eq!(without_compressed_extension("0.jsonl.gz"), "0.jsonl");
/// assert_eq!(without_compressed_extension("0.hex.zst"), "0.hex");
/// assert_eq!(without_compressed_extension("0.jsonl"), "0.jsonl");
/// ```
pub fn without_compressed_extension(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && COMPRESSED_EXTENSIONS.contains(&ext) => stem,
        _ => name,
    }
}

/// What binary data of a known kind `start` begins with, for a message:
/// such a file is not a trail log.
fn binary_kind(start: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 12] = [
        (b"\x89PNG\r\n\x1a\n", "PNG image data"),
        (b"\x7fELF", "ELF executable data"),
        (b"PK\x03\x04", "zip archive data"),
        (b"PK\x05\x06", "zip archive data"),
        (b"\xff\xd8\xff", "JPEG image data"),
        (b"GIF8", "GIF image data"),
        (b"%PDF-", "PDF document data"),
        (b"BZh", "bzip2 data"),
        (b"\xfd7zXZ\0", "xz data"),
        (b"7z\xbc\xaf\x27\x1c", "7-zip archive data"),
        (b"\x1f\x8b", "gzip data"),
        (b"\x28\xb5\x2f\xfd", "zstd data"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| start.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// The most bytes the magic numbers above need.
const HEAD: usize = 8;

/// Reads up to [`HEAD`] bytes (fewer only at the end of the input).
fn read_head(inner: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; HEAD];
    let mut got = 0;
    while got < HEAD {
        match inner.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

/// The log `inner` holds, decompressed when its first bytes say it is
/// compressed (see the [module](self)). An error when it is binary data of
/// a known kind (`this is PNG image data, not a trail log`), compressed or
/// not, or when its compressed start does not decompress. Errors found
/// later (corrupt or cut-off compressed data) come from the reads, say
/// which compression, and are given again by every later read: a damaged
/// stream never looks like a shorter log.
pub fn decompressing(mut inner: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let head = read_head(&mut inner)?;
    let Some(compression) = Compression::detect(&head) else {
        if let Some(kind) = binary_kind(&head) {
            return Err(not_a_log(kind.to_string()));
        }
        return Ok(Box::new(io::Cursor::new(head).chain(inner)));
    };
    let raw = io::Cursor::new(head).chain(inner);
    let decoder: Box<dyn Read + Send> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            64 << 10,
            raw,
        ))),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(raw).map_err(|e| decode_error(compression, &e))?,
        ),
    };
    let mut decoded = Decompressed {
        decoder,
        compression,
        failed: None,
    };
    let head = read_head(&mut decoded)?;
    if let Some(kind) = binary_kind(&head) {
        return Err(not_a_log(format!("{compression} data holding {kind}")));
    }
    Ok(Box::new(io::Cursor::new(head).chain(decoded)))
}

fn not_a_log(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("this is {what}, not a trail log"),
    )
}

/// An error of the decoder, saying which compression failed.
fn decode_error(compression: Compression, e: &io::Error) -> io::Error {
    let what = match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("is cut off: {e}"),
        _ => format!("cannot be decompressed: {e}"),
    };
    io::Error::new(e.kind(), format!("the {compression} data {what}"))
}

/// A decoder whose first error is kept and given by every later read.
struct Decompressed {
    decoder: Box<dyn Read + Send>,
    compression: Compression,
    /// The first error: its kind and message.
    failed: Option<(io::ErrorKind, String)>,
}

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        match self.decoder.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let e = decode_error(self.compression, &e);
                self.failed = Some((e.kind(), e.to_string()));
                Err(e)
            }
            ok => ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LOG: &[u8] = b"2023-06-07T17:32:29Z stdin 6c\n2023-06-07T17:32:30Z stdout 6c6c\n";

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn read_all(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decompressing(Box::new(io::Cursor::new(bytes)))?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn gzip_members_and_zstd_frames_are_read_back_to_back() {
        let mut two = gzip(&LOG[..30]);
        two.extend(gzip(&LOG[30..]));
        assert_eq!(read_all(two).unwrap(), LOG);
        let mut frames = zstd::encode_all(&LOG[..30], 3).unwrap();
        frames.extend(zstd::encode_all(&LOG[30..], 3).unwrap());
        assert_eq!(read_all(frames).unwrap(), LOG);
        assert_eq!(read_all(LOG.to_vec()).unwrap(), LOG);
        assert_eq!(read_all(Vec::new()).unwrap(), b"");
    }

    #[test]
    fn damaged_data_is_an_error_that_stays() {
        let gz = gzip(&LOG.repeat(100));
        let cut = gz[..gz.len() / 2].to_vec();
        let e = read_all(cut).unwrap_err();
        assert!(e.to_string().starts_with("the gzip data is cut off"), "{e}");
        let zst = zstd::encode_all(&LOG.repeat(100)[..], 3).unwrap();
        let e = read_all(zst[..zst.len() / 2].to_vec()).unwrap_err();
        assert!(e.to_string().starts_with("the zstd data "), "{e}");
        let mut bad = gz.clone();
        let mid = bad.len() / 2;
        bad[mid..mid + 8].copy_from_slice(b"\xff\xff\xff\xff\xff\xff\xff\xff");
        let mut reader = decompressing(Box::new(io::Cursor::new(bad))).unwrap();
        let mut out = Vec::new();
        let first = reader.read_to_end(&mut out).unwrap_err().to_string();
        assert!(first.starts_with("the gzip data "), "{first}");
        assert_eq!(reader.read(&mut [0; 64]).unwrap_err().to_string(), first);
    }

    #[test]
    fn binary_files_are_named() {
        let e = read_all(b"\x7fELF\x02\x01\x01\0\0\0".to_vec()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "this is ELF executable data, not a trail log"
        );
        let e = read_all(gzip(b"PK\x03\x04\x14\0\0\0")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "this is gzip data holding zip archive data, not a trail log"
        );
    }
}
