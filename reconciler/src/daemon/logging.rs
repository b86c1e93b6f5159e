//! Structured logs with `tracing`: human-readable text or one JSON object per line
//! (`log.format`), filtered by `log.level` unless `RUST_LOG` is set. Secrets never reach a log:
//! they are [`super::Secret`]s, which print as `<redacted>`, and URLs are logged without user
//! information.

use tracing_subscriber::EnvFilter;

use super::config::{LogConfig, LogFormat};
use super::error::Error;

/// The filter of `config`, or of `RUST_LOG` when it is set.
pub fn filter(config: &LogConfig) -> Result<EnvFilter, Error> {
    match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::builder()
            .parse(&directives)
            .map_err(|e| Error::Logging(format!("RUST_LOG {directives:?}: {e}"))),
        _ => EnvFilter::builder()
            .parse(&config.level)
            .map_err(|e| Error::Logging(format!("log.level {:?}: {e}", config.level))),
    }
}

/// Installs the global subscriber, writing to stderr. Fails if one is installed already.
pub fn init(config: &LogConfig) -> Result<(), Error> {
    let filter = filter(config)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    result.map_err(|e| Error::Logging(e.to_string()))
}
