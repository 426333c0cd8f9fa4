//! The time the server goes by. Production reads the system clock; tests move it forward
//! ([`Clock::advance`]) to reach a due date or a pickup deadline without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

/// The system clock, plus an offset that only tests change. Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The current time at the precision both databases store (microseconds), so that a value
    /// read back equals the value written and keyset cursors compare exactly.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = TimeDelta::microseconds(self.offset_micros.load(Ordering::Relaxed));
        (Utc::now() + offset).trunc_subsecs(6)
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Where a flow reads the time, once it holds its locks (so that times follow the order in which
/// flows commit): a [`Clock`], or a fixed instant (the demo's past, a test's).
pub trait Now: Sync {
    fn now(&self) -> DateTime<Utc>;
}

impl Now for Clock {
    fn now(&self) -> DateTime<Utc> {
        Clock::now(self)
    }
}

impl Now for DateTime<Utc> {
    fn now(&self) -> DateTime<Utc> {
        *self
    }
}
