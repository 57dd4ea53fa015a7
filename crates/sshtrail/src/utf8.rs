//! Joining UTF-8 that event boundaries split.
//!
//! The gateway cuts output wherever the SSH packet ended, often inside a
//! multi-byte character. Text outputs must join the pieces again: never
//! break a character and never lose a byte.

/// Turns byte chunks into text, keeping an incomplete trailing sequence for
/// the next chunk. Bytes that can never be UTF-8 become U+FFFD and are counted.
///
/// ```
/// use sshtrail::Utf8Joiner;
/// let mut j = Utf8Joiner::default();
/// let mut out = String::new();
/// j.push("h\u{e9}".as_bytes().split_at(2).0, &mut out); // "h" + first byte of "é"
/// assert_eq!(out, "h");
/// j.push(&"h\u{e9}".as_bytes()[2..], &mut out);
/// assert_eq!(out, "h\u{e9}");
/// j.push(b"\xff!", &mut out);
/// assert_eq!(out, "h\u{e9}\u{fffd}!");
/// assert_eq!(j.replaced(), 1);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Utf8Joiner {
    pending: Vec<u8>,
    replaced: u64,
}

impl Utf8Joiner {
    /// Appends the text of `bytes` to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut String) {
        let joined;
        let mut rest: &[u8] = if self.pending.is_empty() {
            bytes
        } else {
            self.pending.extend_from_slice(bytes);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    return;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // The prefix was just checked: it is valid UTF-8.
                    out.push_str(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{fffd}');
                            self.replaced += n as u64;
                            rest = &bad[n..];
                        }
                        None => {
                            // An incomplete sequence at the end: wait for more.
                            self.pending.extend_from_slice(bad);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Ends the text: an incomplete sequence left over becomes U+FFFD.
    pub fn finish(&mut self, out: &mut String) {
        if !self.pending.is_empty() {
            self.replaced += self.pending.len() as u64;
            self.pending.clear();
            out.push('\u{fffd}');
        }
    }

    // Only the seek index (feature `terminal`) resumes a replay.
    #[cfg(feature = "terminal")]
    /// The bytes waiting for the rest of their character (a keyframe keeps
    /// them: the next chunk completes them).
    pub(crate) fn pending(&self) -> &[u8] {
        &self.pending
    }

    // Only the seek index (feature `terminal`) resumes a replay.
    #[cfg(feature = "terminal")]
    /// A joiner in the state [`Utf8Joiner::pending`] and
    /// [`Utf8Joiner::replaced`] told.
    pub(crate) fn resumed(pending: Vec<u8>, replaced: u64) -> Self {
        Utf8Joiner { pending, replaced }
    }

    /// Whether bytes are waiting for the rest of their character.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many bytes were replaced by U+FFFD so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_of_every_character_joins_back() {
        let text = "a\u{e9}\u{2713}\u{65e5}\u{1f37a}z";
        let bytes = text.as_bytes();
        for cut1 in 0..=bytes.len() {
            for cut2 in cut1..=bytes.len() {
                let mut j = Utf8Joiner::default();
                let mut out = String::new();
                for piece in [&bytes[..cut1], &bytes[cut1..cut2], &bytes[cut2..]] {
                    j.push(piece, &mut out);
                }
                j.finish(&mut out);
                assert_eq!(out, text, "cuts {cut1} {cut2}");
                assert_eq!(j.replaced(), 0);
            }
        }
    }

    #[test]
    fn invalid_bytes_are_replaced_and_counted() {
        let mut j = Utf8Joiner::default();
        let mut out = String::new();
        j.push(b"a\xc3", &mut out);
        j.push(b"(b\xed\xa0\x80", &mut out); // a broken sequence, then a surrogate
        j.push(b"\xe2\x9c", &mut out);
        j.finish(&mut out);
        assert_eq!(out, "a\u{fffd}(b\u{fffd}\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(j.replaced(), 1 + 3 + 2);
    }
}
