//! Redis stream entry IDs, which are the SSE event IDs of this service.

use std::fmt;
use std::str::FromStr;

/// A Redis stream entry ID, `<milliseconds>-<sequence>`: totally ordered,
/// and the order in which entries were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntryId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence number within that millisecond.
    pub seq: u64,
}

impl EntryId {
    /// `0-0`: before every entry.
    pub const ZERO: EntryId = EntryId { ms: 0, seq: 0 };

    /// The ID as one number in the same order, the position a
    /// [`KeyedHub`](sse_proto::server::KeyedHub) takes: `ms << 64 | seq`.
    pub fn position(self) -> u128 {
        (u128::from(self.ms) << 64) | u128::from(self.seq)
    }

    /// The ID at a [`position`](Self::position).
    pub fn from_position(position: u128) -> EntryId {
        EntryId {
            ms: (position >> 64) as u64,
            seq: position as u64,
        }
    }

    /// The ID just before this one (`0-0` stays `0-0`): resuming after it
    /// starts at this one.
    pub fn pred(self) -> EntryId {
        match (self.ms, self.seq) {
            (_, 1..) => EntryId {
                ms: self.ms,
                seq: self.seq - 1,
            },
            (1.., 0) => EntryId {
                ms: self.ms - 1,
                seq: u64::MAX,
            },
            (0, 0) => EntryId::ZERO,
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A string that is not an entry ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntryId(pub String);

impl fmt::Display for BadEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a Redis stream entry ID (<ms>-<seq>)",
            self.0
        )
    }
}

impl std::error::Error for BadEntryId {}

impl FromStr for EntryId {
    type Err = BadEntryId;

    /// Parses `<ms>-<seq>`, both decimal `u64`s (no sign, no spaces).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadEntryId(s.to_owned());
        let (ms, seq) = s.split_once('-').ok_or_else(bad)?;
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse::<u64>().map_err(|_| bad())
        };
        Ok(EntryId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orders_and_prints() {
        let a: EntryId = "1700000000000-0".parse().expect("valid");
        let b: EntryId = "1700000000000-12".parse().expect("valid");
        let c: EntryId = "1700000000001-0".parse().expect("valid");
        assert!(EntryId::ZERO < a && a < b && b < c);
        assert_eq!(b.to_string(), "1700000000000-12");
        assert_eq!(b.pred().to_string(), "1700000000000-11");
        assert_eq!(c.pred().to_string(), format!("1700000000000-{}", u64::MAX));
        assert_eq!(EntryId::ZERO.pred(), EntryId::ZERO);
        assert!(a.pred() < a);
        for (x, y) in [(a, b), (b, c), (EntryId::ZERO, a), (c.pred(), c)] {
            assert!(x.position() < y.position(), "{x} {y}");
        }
        for id in [a, b, c, c.pred(), EntryId::ZERO] {
            assert_eq!(EntryId::from_position(id.position()), id);
        }
        assert_eq!(EntryId::ZERO.position(), 0);
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1",
            "1-2-3",
            "+1-2",
            "1 -2",
            "a-1",
            "99999999999999999999-0",
        ] {
            assert_eq!(
                bad.parse::<EntryId>(),
                Err(BadEntryId(bad.to_owned())),
                "{bad:?}"
            );
        }
    }
}
