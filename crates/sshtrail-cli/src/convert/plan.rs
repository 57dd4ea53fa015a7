//! What a conversion will do, resolved from the command line before any
//! work starts: the conversion paths never see clap's argument structs.

use std::path::PathBuf;

use sshtrail::output::{OutputFormat, WriterOptions};
use sshtrail::Format;

use super::batch::select::Selector;

/// A resolved `sshtrail convert`.
#[derive(Debug)]
pub struct Plan {
    /// The paths given.
    pub paths: Vec<String>,
    /// The formats, each once, in the order given.
    pub formats: Vec<OutputFormat>,
    /// The writers' settings.
    pub writer: WriterOptions,
    /// The input layout, when forced.
    pub input_format: Option<Format>,
    /// Where the outputs go.
    pub target: Target,
    /// Replace existing outputs.
    pub force: bool,
    /// Sync outputs before renaming them into place.
    pub fsync: bool,
    /// Batch: worker threads (`None`: one a core).
    pub jobs: Option<usize>,
    /// Batch: no progress bar.
    pub quiet: bool,
    /// Batch: skip what an earlier run did.
    pub resume: bool,
    /// Which connections (in every mode).
    pub selector: Selector,
}

/// Where a conversion writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One channel (or SIEM records) on standard output.
    Stdout,
    /// One channel (or SIEM records) into the file `-o` names.
    File(PathBuf),
    /// A batch into an output folder, with a manifest.
    Folder(PathBuf),
}
