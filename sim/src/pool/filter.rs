//! ListUsers filters: `attr = "value"` and `attr ^= "value"`, matched
//! under the pool's case rule for the attributes it folds (API reference,
//! ListUsers, `Filter`).

use super::{ApiError, Pool, SimUser};

pub(super) struct Filter {
    pub(super) attr: String,
    pub(super) prefix: bool,
    pub(super) value: String,
}

impl Filter {
    pub(super) fn matches(&self, pool: &Pool, name: &str, u: &SimUser) -> bool {
        let (actual, folds) = match self.attr.as_str() {
            "username" => (name.to_string(), true),
            "email" => (u.email.clone().unwrap_or_default(), true),
            "preferred_username" => (u.preferred_username.clone().unwrap_or_default(), true),
            "phone_number" => (u.phone_number.clone().unwrap_or_default(), false),
            "cognito:user_status" => (u.status.as_str().to_string(), false),
            "status" => (
                if u.enabled { "Enabled" } else { "Disabled" }.to_string(),
                false,
            ),
            "sub" => (u.sub.clone(), false),
            _ => return false,
        };
        let (actual, wanted) = if folds {
            (pool.fold(&actual), pool.fold(&self.value))
        } else {
            (actual, self.value.clone())
        };
        if self.prefix {
            actual.starts_with(&wanted)
        } else {
            actual == wanted
        }
    }
}

/// Parses `attr = "value"` or `attr ^= "value"`; a quote inside the value
/// is escaped with a backslash.
pub(super) fn parse_filter(f: &str) -> Result<Filter, ApiError> {
    let bad = || ApiError::new("InvalidParameterException", "Error while parsing filter.");
    let (attr, prefix, rest) = if let Some((a, r)) = f.split_once("^=") {
        (a, true, r)
    } else if let Some((a, r)) = f.split_once('=') {
        (a, false, r)
    } else {
        return Err(bad());
    };
    let quoted = rest
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(bad)?;
    let mut value = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next().ok_or_else(bad)?),
            '"' => return Err(bad()),
            c => value.push(c),
        }
    }
    Ok(Filter {
        attr: attr.trim().trim_matches('"').to_string(),
        prefix,
        value,
    })
}
