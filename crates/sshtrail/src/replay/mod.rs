//! What the user saw and typed: a channel's output through a terminal
//! emulator (avt, the one asciinema uses), and the commands recovered from
//! the keys typed at its prompt.

mod commands;
mod downward;
pub mod index;
mod screen;

pub use commands::{Command, CommandRecognizer, Confidence};
pub use screen::{strip_ansi, Screen, ScreenKeyframe};
