//! Identity: password hashing (and, with sessions, who is asking).

pub mod password;
