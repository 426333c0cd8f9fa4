//! Logging: a tracing subscriber filtered by `RUST_LOG` (default `info`), as `LOG_FORMAT` says.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Logging};
use crate::error::StartupError;

/// Installs the global subscriber, writing to standard error as text or JSON lines. Lines are
/// written by a background thread (a request never waits on the terminal or the log collector,
/// unless the buffer is full: then it waits rather than drop lines); keep the returned guard alive
/// until the process ends, so that the last lines are flushed.
pub fn init(settings: &Logging) -> Result<WorkerGuard, StartupError> {
    // Checked when the settings were read.
    let filter = EnvFilter::try_new(settings.filter.as_str())
        .map_err(|e| StartupError::new("RUST_LOG", e.to_string()))?;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match settings.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|e| StartupError::new("RUST_LOG", e.to_string()))?;
    Ok(guard)
}
