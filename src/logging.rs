//! Log lines on stderr, for a person and for log aggregators.
//!
//! Every line carries the run id: one per invocation, also written in the
//! header the run adds to its ledger, so a log line and the ledger's run
//! tie up. Text lines are logfmt after the time and level: `key=value`, a
//! value holding a space, a quote, `=` or a control character quoted and
//! escaped (`why="400 rows to resolve"`), numbers bare. JSON lines
//! (`--log-format json`) are one flat object: `timestamp`, `level`,
//! `run_id`, `message` and the event's own fields, numbers as JSON numbers.
//! The tool opens no spans: an event's fields are all there is to write.

use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::progress::LogWriter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// This invocation's run id: 12 hex digits, random.
pub fn run_id() -> &'static str {
    static RUN_ID: OnceLock<String> = OnceLock::new();
    RUN_ID.get_or_init(|| {
        let mut bytes = [0u8; 6];
        if getrandom::fill(&mut bytes).is_err() {
            // No randomness: the process and the time still tell runs apart.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            bytes[..4].copy_from_slice(&std::process::id().to_be_bytes());
            bytes[4..].copy_from_slice(&(nanos as u16).to_be_bytes());
        }
        bytes.iter().fold(String::with_capacity(12), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    })
}

/// Starts logging to stderr by the filter `directives` (as RUST_LOG
/// spells them), unless RUST_LOG says otherwise.
pub fn init(directives: &str, format: Format) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        // A closed terminal fails every write; LogWriter drops those, and
        // the subscriber must not print about them either.
        .log_internal_errors(false);
    let _ = match format {
        Format::Text => builder.event_format(Line::Text).try_init(),
        Format::Json => builder.event_format(Line::Json).try_init(),
    };
}

/// The two line formats.
#[derive(Debug, Clone, Copy)]
enum Line {
    Text,
    Json,
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let level = event.metadata().level();
        match self {
            Line::Text => {
                let mut fields = Logfmt::default();
                event.record(&mut fields);
                write!(w, "{time} {level:>5} run={} {}", run_id(), fields.message)?;
                writeln!(w, "{}", fields.rest)
            }
            Line::Json => {
                let mut fields = Json::default();
                fields.0.insert("timestamp".into(), time.to_string().into());
                fields.0.insert("level".into(), level.as_str().into());
                fields.0.insert("run_id".into(), run_id().into());
                event.record(&mut fields);
                let line = serde_json::to_string(&fields.0).map_err(|_| fmt::Error)?;
                writeln!(w, "{line}")
            }
        }
    }
}

/// An event's fields as logfmt: the message apart, the rest as ` key=value`.
#[derive(Default)]
struct Logfmt {
    message: String,
    rest: String,
}

impl Logfmt {
    fn text(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
            return;
        }
        let _ = write!(self.rest, " {}=", field.name());
        quote_into(&mut self.rest, value);
    }

    fn bare(&mut self, field: &Field, value: impl fmt::Display) {
        let _ = write!(self.rest, " {}={value}", field.name());
    }
}

impl Visit for Logfmt {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, &format!("{value:?}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.bare(field, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.bare(field, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.bare(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.bare(field, value);
    }
}

/// Writes `value` bare when it needs no quoting, else quoted with `"`,
/// `\` and control characters escaped.
fn quote_into(out: &mut String, value: &str) {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An event's fields as one JSON object's members.
#[derive(Default)]
struct Json(serde_json::Map<String, serde_json::Value>);

impl Visit for Json {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number: null.
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_spaces_quotes_or_controls_are_quoted() {
        let q = |v: &str| {
            let mut s = String::new();
            quote_into(&mut s, v);
            s
        };
        assert_eq!(q("reset"), "reset");
        assert_eq!(q("20.5"), "20.5");
        assert_eq!(q("400 rows to resolve"), "\"400 rows to resolve\"");
        assert_eq!(q(""), "\"\"");
        assert_eq!(q("a=b"), "\"a=b\"");
        assert_eq!(q("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(q("x\u{1b}[2J"), "\"x\\u{1b}[2J\"");
        assert_eq!(q("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn the_run_id_is_twelve_hex_digits_and_stays() {
        let id = run_id();
        assert_eq!(id.len(), 12);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(run_id(), id);
    }
}
