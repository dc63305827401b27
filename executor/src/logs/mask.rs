//! Secret masking for a byte stream: every occurrence of a secret value becomes `***`, even when the value is
//! split across chunks.
//!
//! The masker holds back the last `longest secret - 1` bytes of what it has seen, because they could be the
//! start of a secret whose end has not arrived yet. Memory is therefore bounded by the chunk size plus that tail.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// What a masked secret is replaced with.
pub const MASK: &[u8] = b"***";

/// A streaming secret masker.
#[derive(Debug, Default)]
pub struct Masker {
    matcher: Option<AhoCorasick>,
    hold: usize,
    pending: Vec<u8>,
}

impl Masker {
    /// A masker for these secret values; empty values are ignored (they would mask everything).
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Self {
        let mut values: Vec<&str> = secrets
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| !s.is_empty())
            .collect();
        values.sort_unstable();
        values.dedup();
        let longest = values.iter().map(|s| s.len()).max().unwrap_or(0);
        let matcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .ok()
            .filter(|_| !values.is_empty());
        Self {
            matcher,
            hold: longest.saturating_sub(1),
            pending: Vec::new(),
        }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Masks `input` and appends what is safe to emit to `out`, keeping a possible secret prefix back.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let Some(matcher) = &self.matcher else {
            out.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        let safe = self.pending.len().saturating_sub(self.hold);
        let mut pos = 0;
        for m in matcher.find_iter(&self.pending) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&self.pending[pos..m.start()]);
            out.extend_from_slice(MASK);
            pos = m.end();
        }
        let cut = pos.max(safe);
        out.extend_from_slice(&self.pending[pos..cut]);
        self.pending.drain(..cut);
    }

    /// Emits everything held back (masked), e.g. when a command ends or the log closes.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.pending);
        match &self.matcher {
            Some(matcher) => matcher.replace_all_with_bytes(&held, out, |_, _, dst| {
                dst.extend_from_slice(MASK);
                true
            }),
            None => out.extend_from_slice(&held),
        }
    }

    /// Masks a whole string at once (for the executor's own lines and recorded values).
    pub fn mask_str(&self, text: &str) -> String {
        match &self.matcher {
            Some(matcher) => matcher.replace_all(text, &vec!["***"; matcher.patterns_len()]),
            None => text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secrets: &[&str], chunks: &[&[u8]]) -> String {
        let mut masker = Masker::new(secrets);
        let mut out = Vec::new();
        for chunk in chunks {
            masker.push(chunk, &mut out);
        }
        masker.flush(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_secret_is_masked_wherever_it_appears() {
        assert_eq!(
            run(&["hunter2"], &[b"pw=hunter2 and hunter2\n"]),
            "pw=*** and ***\n"
        );
    }

    #[test]
    fn a_secret_split_across_writes_is_still_masked() {
        for split in 1..7 {
            let text = b"token: s3cr3tv and more";
            let (a, b) = text.split_at(7 + split);
            assert_eq!(
                run(&["s3cr3tv"], &[a, b]),
                "token: *** and more",
                "split at {split}"
            );
        }
        let bytes: Vec<&[u8]> = b"xxs3cr3tvyy".chunks(1).collect();
        assert_eq!(run(&["s3cr3tv"], &bytes), "xx***yy");
    }

    #[test]
    fn the_longest_overlapping_secret_wins() {
        assert_eq!(run(&["abc", "abcdef"], &[b"1abcdef2abc3"]), "1***2***3");
        assert_eq!(run(&["abc", "abcdef"], &[b"1abcd", b"ef2"]), "1***2");
    }

    #[test]
    fn text_without_secrets_passes_unchanged_and_nothing_is_lost() {
        let text: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_string().into_bytes()).collect();
        let chunks: Vec<&[u8]> = text.chunks(37).collect();
        assert_eq!(run(&["zzzz"], &chunks).as_bytes(), &text[..]);
        assert_eq!(run(&[""], &chunks).as_bytes(), &text[..]);
    }

    #[test]
    fn mask_str_masks_executor_lines() {
        let masker = Masker::new(&["hunter2"]);
        assert_eq!(
            masker.mask_str("Running command echo hunter2"),
            "Running command echo ***"
        );
    }
}
