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
        self.push_pieces(bytes, |piece| out.push_str(piece));
    }

    /// Hands the text of `bytes` to `piece`, in pieces of whole characters
    /// (a byte that is not UTF-8 is a piece of its own, U+FFFD): what
    /// transforms text as it goes (an escaper) takes it without a copy.
    pub fn push_pieces(&mut self, bytes: &[u8], mut piece: impl FnMut(&str)) {
        let mut bytes = bytes;
        if !self.pending.is_empty() {
            // The held bytes begin a character: the first bytes of the
            // chunk end it (or show it broken), and the rest of the chunk
            // goes on without a copy.
            let width = utf8_width(self.pending[0]);
            let take = width.saturating_sub(self.pending.len()).min(bytes.len());
            let held = self.pending.len();
            self.pending.extend_from_slice(&bytes[..take]);
            match std::str::from_utf8(&self.pending) {
                Ok(c) => {
                    piece(c);
                    self.pending.clear();
                    bytes = &bytes[take..];
                }
                Err(e) if e.valid_up_to() == 0 => match e.error_len() {
                    // Still not whole: the chunk was all of it.
                    None => return,
                    Some(n) if n >= held => {
                        piece("\u{fffd}");
                        self.replaced += n as u64;
                        self.pending.clear();
                        bytes = &bytes[n - held..];
                    }
                    Some(_) => return self.push_joined(bytes, take, piece),
                },
                Err(_) => return self.push_joined(bytes, take, piece),
            }
        }
        // A chunk cut inside its last character: the whole characters
        // before the cut are checked once, the cut ones held.
        let cut = incomplete_tail_start(bytes);
        if cut < bytes.len() {
            let (body, tail) = bytes.split_at(cut);
            let tail_incomplete = matches!(std::str::from_utf8(tail), Err(e) if e.valid_up_to() == 0 && e.error_len().is_none());
            if tail_incomplete {
                if let Ok(text) = std::str::from_utf8(body) {
                    piece(text);
                    self.pending.extend_from_slice(tail);
                    return;
                }
            }
        }
        self.push_checked(bytes, &mut piece);
    }

    /// The way every chunk was once joined: the held bytes (of which
    /// `taken` came from `bytes`) and all of `bytes` in one buffer; only
    /// for held bytes that a chunk breaks in a way the direct path does
    /// not follow.
    fn push_joined(&mut self, bytes: &[u8], taken: usize, mut piece: impl FnMut(&str)) {
        self.pending.extend_from_slice(&bytes[taken..]);
        let joined = std::mem::take(&mut self.pending);
        self.push_checked(&joined, &mut piece);
    }

    /// Hands the text of `rest` (nothing held before it) to `piece`:
    /// bytes that are not UTF-8 become U+FFFD, an incomplete end is held.
    fn push_checked(&mut self, mut rest: &[u8], piece: &mut impl FnMut(&str)) {
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    piece(s);
                    return;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // The prefix was just checked: it is valid UTF-8.
                    piece(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            piece("\u{fffd}");
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

/// How many bytes the character a lead byte starts takes (1 for a byte
/// that starts none).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// Where the last character of `bytes` starts if it is cut short by the
/// end (its lead byte wants more bytes than follow), else `bytes.len()`.
fn incomplete_tail_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let b = bytes[len - back];
        if b < 0x80 {
            break;
        }
        if b >= 0xc0 {
            return if utf8_width(b) > back {
                len - back
            } else {
                len
            };
        }
    }
    len
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

    /// The joining as it was before held bytes were completed in place:
    /// the held bytes and the whole chunk in one buffer, checked whole.
    fn joined_whole(chunks: &[&[u8]]) -> (String, u64) {
        let (mut pending, mut replaced, mut out) = (Vec::new(), 0u64, String::new());
        for chunk in chunks {
            pending.extend_from_slice(chunk);
            let joined = std::mem::take(&mut pending);
            let mut rest: &[u8] = &joined;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let (good, bad) = rest.split_at(e.valid_up_to());
                        out.push_str(std::str::from_utf8(good).unwrap());
                        match e.error_len() {
                            Some(n) => {
                                out.push('\u{fffd}');
                                replaced += n as u64;
                                rest = &bad[n..];
                            }
                            None => {
                                pending.extend_from_slice(bad);
                                break;
                            }
                        }
                    }
                }
            }
        }
        if !pending.is_empty() {
            replaced += pending.len() as u64;
            out.push('\u{fffd}');
        }
        (out, replaced)
    }

    #[test]
    fn pieces_join_as_whole_chunks_did_at_every_split() {
        let samples: [&[u8]; 4] = [
            "a\u{e9}\u{2713}\u{1f37a}z".as_bytes(),
            b"\xe2\x9c\xe2\x9c\x93\xff\xf0\x9f\x8d\xba\xf0\x9f\x8d!",
            b"\xc3\xe0\x80\xed\xa0\x80\xf4\x90\x80\x80\xc3\xa9\xe2",
            b"\xf0\x9f\xe2\x9c\x93\xc3",
        ];
        for bytes in samples {
            for cut1 in 0..=bytes.len() {
                for cut2 in cut1..=bytes.len() {
                    let chunks = [&bytes[..cut1], &bytes[cut1..cut2], &bytes[cut2..]];
                    let mut j = Utf8Joiner::default();
                    let mut out = String::new();
                    for chunk in chunks {
                        j.push_pieces(chunk, |piece| out.push_str(piece));
                    }
                    j.finish(&mut out);
                    assert_eq!(
                        (out, j.replaced()),
                        joined_whole(&chunks),
                        "{bytes:x?} cuts {cut1} {cut2}"
                    );
                }
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
