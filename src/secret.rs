//! A password in memory: a wrapper whose `Debug` and `Display` print `***`,
//! so a password cannot reach a log line, an error message or a panic by
//! accident. The only way to the text is [`Password::expose`], called where
//! the request to Cognito is built.

use std::fmt;

/// A password read from the input. Formatting it never shows the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Self {
        Password(text)
    }

    /// The password's text, for the one place that sends it to Cognito.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of `password` in `text` with `***`.
/// Used on error messages that come back from a call that carried it.
pub fn redact(text: &str, password: &Password) -> String {
    let p = password.expose();
    if p.is_empty() {
        text.to_string()
    } else {
        text.replace(p, "***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_text() {
        let p = Password::new("Hunter2!secret".into());
        assert_eq!(format!("{p} {p:?} {:?}", Some(&p)), "*** *** Some(***)");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let p = Password::new("Pa55word!".into());
        assert_eq!(redact("bad Pa55word! and Pa55word!", &p), "bad *** and ***");
    }
}
