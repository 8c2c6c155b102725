//! Cognito's input rules, checked before anything is sent.
//!
//! Usernames: 1 to 128 characters, each a letter, mark, symbol, number or
//! punctuation (`[\p{L}\p{M}\p{S}\p{N}\p{P}]+`): no whitespace, control or
//! format characters. Pool ids: 1 to 55 characters matching
//! `[\w-]+_[0-9a-zA-Z]+`, whose part before the last `_` is the region.
//! Passwords: 1 to 256 characters with no whitespace (`[\S]+`); the pool's
//! own password policy is Cognito's to enforce.

use unicode_general_category::{get_general_category, GeneralCategory as G};

/// Why a username was refused. The text never includes the username itself
/// beyond its length, so it is safe to print for any input.
pub fn check_username(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if len == 0 {
        return Err("username is empty".into());
    }
    if len > 128 {
        return Err(format!(
            "username is {len} characters long; Cognito allows at most 128"
        ));
    }
    for (i, c) in name.chars().enumerate() {
        if !username_char_allowed(c) {
            let what = if c.is_whitespace() {
                "whitespace"
            } else if c.is_control() {
                "a control character"
            } else {
                "a character Cognito does not allow"
            };
            return Err(format!(
                "username contains {what} (U+{:04X}) at character {}",
                c as u32,
                i + 1
            ));
        }
    }
    Ok(())
}

fn username_char_allowed(c: char) -> bool {
    matches!(
        get_general_category(c),
        // Letters
        G::UppercaseLetter | G::LowercaseLetter | G::TitlecaseLetter | G::ModifierLetter | G::OtherLetter
        // Marks
        | G::NonspacingMark | G::SpacingMark | G::EnclosingMark
        // Symbols
        | G::MathSymbol | G::CurrencySymbol | G::ModifierSymbol | G::OtherSymbol
        // Numbers
        | G::DecimalNumber | G::LetterNumber | G::OtherNumber
        // Punctuation
        | G::ConnectorPunctuation | G::DashPunctuation | G::OpenPunctuation | G::ClosePunctuation
        | G::InitialPunctuation | G::FinalPunctuation | G::OtherPunctuation
    )
}

/// Why a password was refused (the text never includes the password).
pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len == 0 {
        return Err("password is empty".into());
    }
    if len > 256 {
        return Err(format!(
            "password is {len} characters long; Cognito allows at most 256"
        ));
    }
    if password.chars().any(char::is_whitespace) {
        return Err("password contains whitespace, which Cognito does not allow".into());
    }
    Ok(())
}

/// Checks a user pool id and returns its region (the part before the last `_`).
pub fn check_pool_id(id: &str) -> Result<&str, String> {
    if id.is_empty() || id.len() > 55 {
        return Err(format!(
            "it is {} characters long; pool ids have 1 to 55",
            id.chars().count()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "it contains '{}'; only letters, digits, '-' and '_' are allowed",
            bad.escape_default()
        ));
    }
    let Some(split) = id.rfind('_') else {
        return Err("it has no '_' between the region and the pool's own id".into());
    };
    let (region, suffix) = (&id[..split], &id[split + 1..]);
    if region.is_empty() {
        return Err("nothing comes before the '_'; it should start with the region".into());
    }
    if suffix.is_empty() || !suffix.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("the part after the last '_' must be letters and digits".into());
    }
    Ok(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Usernames Cognito accepts pass: letters of any script, digits,
    /// punctuation (email addresses), symbols, marks.
    #[test]
    fn accepts_cognito_usernames() {
        for ok in [
            "alice",
            "a",
            "alice@example.com",
            "O'Brien+test",
            "ユーザー",
            "müller",
            "e\u{301}",
            "a\"b,c",
            "$€£",
            "550e8400-e29b-41d4-a716-446655440000",
            &"x".repeat(128),
        ] {
            assert_eq!(check_username(ok), Ok(()), "{ok:?} should be accepted");
        }
    }

    /// Whitespace, control and format characters, empty and overlong names are refused with a reason.
    #[test]
    fn refuses_what_cognito_refuses() {
        for (bad, why) in [
            ("", "empty"),
            ("two words", "whitespace"),
            (" lead", "whitespace"),
            ("tab\there", "whitespace"),
            ("nul\0", "control"),
            ("bell\u{7}", "control"),
            ("zero\u{200B}width", "does not allow"),
            ("bom\u{FEFF}", "does not allow"),
            ("nbsp\u{A0}", "whitespace"),
        ] {
            let err = check_username(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let long = "y".repeat(129);
        assert!(check_username(&long)
            .unwrap_err()
            .contains("129 characters"));
    }

    /// Pool ids follow `[\w-]+_[0-9a-zA-Z]+`; the region is the prefix.
    #[test]
    fn pool_ids() {
        assert_eq!(check_pool_id("us-east-1_AbCdEfGhI"), Ok("us-east-1"));
        assert_eq!(check_pool_id("eu-west-2_x"), Ok("eu-west-2"));
        for bad in [
            "",
            "us-east-1",
            "_abc",
            "us-east-1_",
            "us-east-1_ab-c",
            "us east_1",
            "us-east-1_abc/",
            &format!("us-east-1_{}", "a".repeat(50)),
        ] {
            assert!(check_pool_id(bad).is_err(), "{bad:?} should be refused");
        }
    }

    /// Passwords: no whitespace, 1..256 characters; the message never echoes the password.
    #[test]
    fn passwords() {
        assert_eq!(check_password("Correct-Horse-9"), Ok(()));
        let err = check_password("has space").unwrap_err();
        assert!(!err.contains("has space"));
        assert!(check_password("").is_err());
        assert!(check_password(&"p".repeat(257)).is_err());
    }
}
