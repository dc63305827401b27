//! A fixed 256-bit set of small integers, used for the allowed values of one cron field.

/// A set of integers in `0..256`; every cron field fits (years are stored as offsets from 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Bits([u64; 4]);

impl Bits {
    /// Adds `value`; values of 256 and more are ignored (callers range-check first).
    pub(crate) fn insert(&mut self, value: u32) {
        if let Some(word) = self.0.get_mut((value / 64) as usize) {
            *word |= 1 << (value % 64);
        }
    }

    /// Whether `value` is in the set.
    pub(crate) fn contains(&self, value: u32) -> bool {
        self.0
            .get((value / 64) as usize)
            .is_some_and(|word| word & (1 << (value % 64)) != 0)
    }

    /// The smallest member that is at least `from`.
    pub(crate) fn next_at_or_after(&self, from: u32) -> Option<u32> {
        let mut index = (from / 64) as usize;
        let mut word = *self.0.get(index)? & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(index as u32 * 64 + word.trailing_zeros());
            }
            index += 1;
            word = *self.0.get(index)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn next_at_or_after_crosses_word_boundaries_and_stops_at_the_end() {
        let mut bits = Bits::default();
        for value in [0, 63, 64, 200, 255] {
            bits.insert(value);
        }
        assert_eq!(bits.next_at_or_after(0), Some(0));
        assert_eq!(bits.next_at_or_after(1), Some(63));
        assert_eq!(bits.next_at_or_after(65), Some(200));
        assert_eq!(bits.next_at_or_after(201), Some(255));
        assert_eq!(bits.next_at_or_after(256), None);
        assert!(bits.contains(64) && !bits.contains(65));
    }
}
