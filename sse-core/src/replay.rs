//! A bounded in-memory replay log, for resuming clients from their
//! `Last-Event-ID`.

use alloc::collections::VecDeque;
use alloc::string::ToString;
use core::fmt;

use crate::encoder::{encoded_len, EncodeError, ServerEvent};

/// The last events a server sent, so that a client that reconnects with
/// `Last-Event-ID` gets what it missed.
///
/// The log gives each event its id: a number, one more than the last. That
/// is what lets it tell a client whose id is too old (the events after it
/// were evicted: send a full refresh) from one whose id it never issued (a
/// server restart, another instance), instead of silently losing events.
/// It keeps at most `max_events` events and `max_bytes` bytes of them.
///
/// # Example
///
/// ```
/// use sse_proto::replay::{ReplayLog, Resume};
/// use sse_proto::ServerEvent;
///
/// let mut log = ReplayLog::new(2, 1 << 20);
/// for n in 1..=3 {
///     log.push(ServerEvent::new().data(format!("event {n}")))?;
/// }
/// // A client that saw id 2 gets event 3 again.
/// let missed: Vec<_> = log.since("2")?.map(|e| e.to_bytes()).collect::<Result<_, _>>()?;
/// assert_eq!(missed, ["id: 3\ndata: event 3\n\n"]);
/// // Id 1 was the last one evicted; event 2 is still here, so 1 is fine.
/// assert_eq!(log.since("1")?.count(), 2);
/// // Nothing is known after id 0: event 1 is gone.
/// assert_eq!(log.since("0").err(), Some(Resume::TooOld { oldest: 2 }));
/// assert_eq!(log.since("42").err(), Some(Resume::Unknown));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReplayLog {
    /// Each event with its id and encoded size.
    entries: VecDeque<(u64, ServerEvent, usize)>,
    max_events: usize,
    max_bytes: usize,
    bytes: usize,
    next_id: u64,
}

/// Why a client cannot be resumed from its `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resume {
    /// The events after that id are no longer in the log; the oldest kept
    /// is `oldest`. Send the client a full refresh.
    TooOld {
        /// The oldest id the log still has.
        oldest: u64,
    },
    /// The log never issued that id (not a number, or ahead of it: another
    /// server's id, or one from before a restart).
    Unknown,
}

impl fmt::Display for Resume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resume::TooOld { oldest } => write!(
                f,
                "the events after that id are gone (the oldest kept is {oldest})"
            ),
            Resume::Unknown => f.write_str("that id was never issued by this log"),
        }
    }
}

impl core::error::Error for Resume {}

impl ReplayLog {
    /// An empty log that keeps at most `max_events` events and `max_bytes`
    /// bytes (the newest event is always kept).
    pub fn new(max_events: usize, max_bytes: usize) -> Self {
        ReplayLog {
            entries: VecDeque::new(),
            max_events: max_events.max(1),
            max_bytes,
            bytes: 0,
            next_id: 1,
        }
    }

    /// Gives `event` the next id, keeps it, and returns the id and the
    /// event (with its id) to send to the clients connected now.
    ///
    /// # Errors
    ///
    /// The encoder's refusal, checked here so that the log only holds events
    /// that can be sent; the log is then unchanged.
    pub fn push(&mut self, event: ServerEvent) -> Result<(u64, ServerEvent), EncodeError> {
        let id = self.next_id;
        let event = event.id(id.to_string());
        let size = encoded_len(&event.as_event_ref())?;
        self.next_id += 1;
        self.bytes += size;
        self.entries.push_back((id, event.clone(), size));
        while self.entries.len() > self.max_events
            || (self.bytes > self.max_bytes && self.entries.len() > 1)
        {
            if let Some((_, _, old)) = self.entries.pop_front() {
                self.bytes -= old;
            }
        }
        Ok((id, event))
    }

    /// Every event the log still holds, oldest first: what to send a client
    /// that has seen none.
    pub fn events(&self) -> impl Iterator<Item = ServerEvent> + '_ {
        self.entries.iter().map(|(_, e, _)| e.clone())
    }

    /// The id of the newest event, if any.
    pub fn last_id(&self) -> Option<u64> {
        self.next_id.checked_sub(1).filter(|&id| id > 0)
    }

    /// The events after `last_event_id`, oldest first.
    ///
    /// # Errors
    ///
    /// [`Resume::TooOld`] when events after that id were evicted, and
    /// [`Resume::Unknown`] when this log never issued it.
    pub fn since(
        &self,
        last_event_id: &str,
    ) -> Result<impl Iterator<Item = ServerEvent> + '_, Resume> {
        let last: u64 = last_event_id.parse().map_err(|_| Resume::Unknown)?;
        if last >= self.next_id {
            return Err(Resume::Unknown);
        }
        // The client has everything up to `last`; it needs `last + 1` on.
        if let Some(&(oldest, _, _)) = self.entries.front() {
            if last + 1 < oldest {
                return Err(Resume::TooOld { oldest });
            }
        }
        Ok(self
            .entries
            .iter()
            .filter(move |(id, _, _)| *id > last)
            .map(|(_, e, _)| e.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    #[test]
    fn bounded_by_events_and_bytes() {
        let mut log = ReplayLog::new(100, 80);
        for n in 0..10 {
            let _ = log
                .push(ServerEvent::new().data(format!("{n:020}")))
                .unwrap();
        }
        // Each event is "id: N\ndata: <20 digits>\n\n", 34 or 35 bytes: two
        // fit in 80, three do not.
        assert_eq!(log.entries.len(), 2);
        assert!(log.bytes <= 80);
        assert_eq!(log.last_id(), Some(10));
        let big = ServerEvent::new().data("x".repeat(1000));
        let _ = log.push(big).unwrap();
        assert_eq!(
            log.entries.len(),
            1,
            "the newest is kept even when over the byte bound"
        );
    }

    #[test]
    fn resumes_and_refuses() {
        let mut log = ReplayLog::new(3, usize::MAX);
        assert_eq!(log.since("0").map(Iterator::count), Ok(0));
        assert_eq!(log.since("1").err(), Some(Resume::Unknown));
        for _ in 0..5 {
            let _ = log.push(ServerEvent::new().data("x")).unwrap();
        }
        let ids = |since: &str| -> Result<Vec<u64>, Resume> {
            Ok(log
                .since(since)?
                .map(|e| e.to_bytes().unwrap()[4] as u64 - u64::from(b'0'))
                .collect())
        };
        assert_eq!(ids("5"), Ok(Vec::new()));
        assert_eq!(ids("3"), Ok([4, 5].into()));
        assert_eq!(ids("2"), Ok([3, 4, 5].into()));
        assert_eq!(ids("1"), Err(Resume::TooOld { oldest: 3 }));
        assert_eq!(ids("6"), Err(Resume::Unknown));
        assert_eq!(ids("x"), Err(Resume::Unknown));
        assert_eq!(log.events().count(), 3);
        assert_eq!(ids("-1"), Err(Resume::Unknown));
    }

    #[test]
    fn refused_events_leave_the_log_unchanged() {
        let mut log = ReplayLog::new(3, usize::MAX);
        assert!(log
            .push(ServerEvent::new().event("a\nb").data("x"))
            .is_err());
        assert_eq!(log.last_id(), None);
        assert_eq!(log.push(ServerEvent::new().data("x")).unwrap().0, 1);
    }
}
