//! Tracing on stderr: readable lines for people (coloured only on a terminal) or, with
//! `--log-format json`, one JSON object per line whose fields keep one type from line to line,
//! so that a collector can index them.

use std::ffi::OsString;
use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The target of the events that take the place of `serve`'s plain-text lines ("idmsync
/// serving …", "idmsync stopped") with `--log-format json`. Always enabled in that format, at
/// any verbosity, since they are what an operator waits for.
pub const ANNOUNCE: &str = "idmsync::announce";

/// Installs the global subscriber: `verbose` picks the level unless `RUST_LOG` is set.
pub fn init(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::env::var_os("NO_COLOR"),
            std::io::stderr().is_terminal(),
        ));
    match format {
        LogFormat::Text => builder.with_env_filter(filter).init(),
        LogFormat::Json => {
            let filter = match format!("{ANNOUNCE}=info").parse() {
                Ok(directive) => filter.add_directive(directive),
                Err(_) => filter,
            };
            builder
                .with_env_filter(filter)
                .event_format(StableJson)
                .fmt_fields(StableJson)
                .init();
        }
    }
}

/// Whether log lines may hold ANSI colour codes: only on a terminal, and never when `NO_COLOR`
/// is set to anything (<https://no-color.org>); in a pipe or a file they are noise.
fn colour(no_color: Option<OsString>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// The JSON format: `{"timestamp", "level", "target", "fields"}`, the fields of the event's
/// spans and of the event itself in one object (the event's win).
///
/// The library crates log some values through `Display` or `Debug`, which tracing's own JSON
/// writes as strings; this format gives the known one its one type: `run` is always a number
/// (a dry run, which has none, leaves it out). Durations are logged as numbers already, in
/// seconds, in fields ending in `_secs`.
struct StableJson;

impl<S, N> FormatEvent<S, N> for StableJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(formatted) = span.extensions().get::<FormattedFields<N>>() {
                    fields.merge(&formatted.fields);
                }
            }
        }
        event.record(&mut fields);
        let meta = event.metadata();
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": meta.level().as_str(),
            "target": meta.target(),
            "fields": fields.0,
        });
        writeln!(writer, "{line}")
    }
}

impl<'writer> FormatFields<'writer> for StableJson {
    /// A span's fields, kept as a JSON object for [`StableJson::format_event`] to merge.
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut object = Fields::default();
        fields.record(&mut object);
        write!(writer, "{}", Value::Object(object.0))
    }

    /// Fields recorded after the span was created (the scheduler's `run`), into the same object.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut object = Fields::default();
        object.merge(&current.fields);
        fields.record(&mut object);
        current.fields = Value::Object(object.0).to_string();
        Ok(())
    }
}

/// Fields collected into a JSON object, with the stable types [`StableJson`] promises.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Fields {
    /// Adds the fields of a span, as [`StableJson`] formatted them.
    fn merge(&mut self, formatted: &str) {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(formatted) {
            self.0.extend(object);
        }
    }

    /// A value that arrived as text (`%value`, `?value` or a `&str`).
    fn text(&mut self, name: &str, text: String) {
        match name {
            "run" => {
                if let Ok(id) = text.parse::<i64>() {
                    self.0.insert(name.into(), id.into());
                }
            }
            _ => {
                self.0.insert(name.into(), text.into());
            }
        }
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field.name(), format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(None, true));
        assert!(colour(Some("".into()), true));
        assert!(!colour(Some("1".into()), true));
        assert!(!colour(None, false));
    }

    #[test]
    fn a_run_is_a_number_and_a_dry_run_has_none() {
        let mut fields = Fields::default();
        fields.text("run", "9".into());
        assert_eq!(fields.0["run"], 9);
        let mut dry = Fields::default();
        dry.text("run", "dry".into());
        assert!(dry.0.is_empty());
    }
}
