//! Text from outside (input rows, headers, S3 bytes, the SDK's messages)
//! made safe to show: shortened, and never acting on the terminal.

/// Input text as a message may show it on a terminal: at most 200
/// characters (as [`excerpt`]), with every control character (C0, DEL, C1:
/// escape sequences that would set the terminal's title, clear the screen
/// or move the cursor) and every bidirectional override written as a
/// `\u{..}` escape, so that no input byte acts on the terminal or hides
/// what follows it.
pub(crate) fn shown(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in excerpt(raw).chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Shortens `raw` to at most 200 characters for a ledger record.
pub(crate) fn excerpt(raw: &str) -> String {
    const MAX: usize = 200;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_string(),
    }
}
