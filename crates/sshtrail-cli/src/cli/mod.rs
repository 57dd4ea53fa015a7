//! What every command shares: argument types, problem reports and exit
//! statuses, reading what the user pointed at, and writing outputs safely.

pub mod args;
pub mod blocks;
pub mod exit;
pub mod input;
pub mod output;
pub mod report;
pub mod spool;
pub mod text;
