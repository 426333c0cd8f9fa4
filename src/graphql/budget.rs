//! The response's size budget (`GRAPHQL_MAX_RESPONSE_BYTES`), shared by every operation of one HTTP
//! request. Text fields that can be long charge their bytes as they resolve, so a response that
//! would exceed the budget stops growing near it instead of filling memory; the handler then
//! answers one coded error instead of a partial body, and checks the serialized size as well.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::AppError;

/// Bytes a response may still carry.
#[derive(Debug)]
pub struct ResponseBudget {
    max: usize,
    left: AtomicUsize,
    exceeded: std::sync::atomic::AtomicBool,
}

impl ResponseBudget {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            left: AtomicUsize::new(max),
            exceeded: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The limit, in bytes.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes `bytes` from the budget, or `RESPONSE_TOO_LARGE` when fewer are left.
    pub fn charge(&self, bytes: usize) -> Result<(), AppError> {
        match self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            }) {
            Ok(_) => Ok(()),
            Err(_) => {
                self.exceeded.store(true, Ordering::Relaxed);
                Err(AppError::ResponseTooLarge { max: self.max })
            }
        }
    }

    /// Whether some field was refused for want of budget.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_the_budget_is_spent() {
        let budget = ResponseBudget::new(10);
        budget.charge(6).unwrap();
        assert!(!budget.exceeded());
        assert_eq!(
            budget.charge(5).unwrap_err().code(),
            crate::error::Code::ResponseTooLarge
        );
        assert!(budget.exceeded());
        budget.charge(4).unwrap();
    }
}
