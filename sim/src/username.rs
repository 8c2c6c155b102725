//! The username rule Cognito enforces on AdminCreateUser: 1 to 128
//! characters matching `[\p{L}\p{M}\p{S}\p{N}\p{P}]+` (letters, marks,
//! symbols, numbers, punctuation; no whitespace, control or format
//! characters). Source: Amazon Cognito API Reference, AdminCreateUser,
//! request parameter `Username` (Length Constraints, Pattern).
//!
//! The tool checks its input against the same documented rule on its own;
//! the simulator keeps its copy so that it models Cognito and not the tool.

use unicode_general_category::{get_general_category, GeneralCategory as G};

/// Why Cognito would refuse `name` as a username.
pub fn refusal(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(1..=128).contains(&len) {
        return Some(format!(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must have length between 1 and 128 (length {len})"
        ));
    }
    name.chars().find(|c| !allowed(*c)).map(|c| {
        format!(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{{L}}\\p{{M}}\\p{{S}}\\p{{N}}\\p{{P}}]+ (U+{:04X})",
            c as u32
        )
    })
}

fn allowed(c: char) -> bool {
    !matches!(
        get_general_category(c),
        G::SpaceSeparator
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::Control
            | G::Format
            | G::Surrogate
            | G::PrivateUse
            | G::Unassigned
    )
}

#[cfg(test)]
mod tests {
    use super::refusal;

    /// Letters, marks, symbols, numbers and punctuation pass; whitespace, control and format characters, and lengths outside 1..=128, do not.
    #[test]
    fn follows_the_documented_pattern() {
        for ok in [
            "alice",
            "ALICE@example.com",
            "ünïcødé",
            "+15550100",
            "a.b-c_d",
            "日本",
        ] {
            assert_eq!(refusal(ok), None, "{ok}");
        }
        for bad in ["", "two words", "tab\there", "nul\0", "zero\u{200b}width"] {
            assert!(refusal(bad).is_some(), "{bad:?}");
        }
        assert!(refusal(&"a".repeat(128)).is_none());
        assert!(refusal(&"a".repeat(129)).is_some());
    }
}
