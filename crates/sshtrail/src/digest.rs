//! SHA-256 of what is stored (logs, outputs, downloads, kept copies), read
//! in pieces so that memory does not grow with the file, and its hex text.
//!
//! ```
//! let (size, digest) = sshtrail::digest::sha256_reader(&mut &b"abc"[..]).unwrap();
//! assert_eq!(size, 3);
//! assert!(sshtrail::digest::hex(&digest).starts_with("ba7816bf"));
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The bytes read at a time.
const PIECE: usize = 256 << 10;

/// The size and SHA-256 of everything `reader` gives.
pub fn sha256_reader(reader: &mut dyn Read) -> io::Result<(u64, [u8; 32])> {
    let mut buf = vec![0u8; PIECE];
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((size, hasher.finalize().into()))
}

/// The size and SHA-256 of the file at `path`.
pub fn sha256_file(path: &Path) -> io::Result<(u64, [u8; 32])> {
    sha256_reader(&mut File::open(path)?)
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
