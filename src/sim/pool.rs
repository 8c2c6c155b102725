//! The simulated pool's state and the Cognito operations on it.
//!
//! Users have a status, an enabled flag and verified email / phone; the
//! operations behave as DOMAIN.md describes Cognito (and moto): resetting a
//! user in FORCE_CHANGE_PASSWORD or a disabled user is NotAuthorized, a user
//! with nothing verified is InvalidParameter, and so on. Every applied call
//! is counted per user, and so is every message Cognito would have sent.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// A Cognito error: code, message, HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub status: u16,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ApiError {
        let code = code.into();
        let status = match code.as_str() {
            "TooManyRequestsException" => 429,
            "InternalErrorException" => 500,
            _ => 400,
        };
        ApiError {
            code,
            message: message.into(),
            status,
        }
    }
}

/// UserStatus values the simulation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    ForceChangePassword,
    ResetRequired,
    ExternalProvider,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "CONFIRMED",
            Status::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            Status::ResetRequired => "RESET_REQUIRED",
            Status::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }
}

/// One simulated user, with what happened to it.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub status: Status,
    pub enabled: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub created: f64,
    pub modified: f64,
    /// The password set last (the simulation keeps it to check set-password).
    pub password: Option<String>,
    /// Mutating calls that reached this user, whatever their answer.
    pub calls: u32,
    /// Mutating calls carried out on this user (reset, set-password, sign-out).
    pub mutations: u32,
    /// Messages Cognito would have sent (reset codes).
    pub messages: u32,
    pub sign_outs: u32,
}

impl SimUser {
    pub fn new(status: Status, enabled: bool, verified_email: bool) -> SimUser {
        SimUser {
            status,
            enabled,
            email: Some("user@example.com".into()),
            email_verified: verified_email,
            created: now(),
            modified: now(),
            password: None,
            calls: 0,
            mutations: 0,
            messages: 0,
            sign_outs: 0,
        }
    }
}

/// The users of the simulated pool, in name order (ListUsers pages by name).
#[derive(Debug)]
pub struct Pool {
    pub pool_id: String,
    pub users: Mutex<BTreeMap<String, SimUser>>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn str_field<'a>(input: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    input
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::new("InvalidParameterException", format!("1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null")))
}

impl Pool {
    fn check_pool(&self, input: &Value) -> Result<(), ApiError> {
        let id = str_field(input, "UserPoolId")?;
        if id != self.pool_id {
            return Err(ApiError::new(
                "ResourceNotFoundException",
                format!("User pool {id} does not exist."),
            ));
        }
        Ok(())
    }

    /// Runs `f` on the named user; a mutating call is counted in `calls`
    /// whatever `f` answers.
    fn with_user<T>(
        &self,
        input: &Value,
        mutating: bool,
        f: impl FnOnce(&str, &mut SimUser) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.check_pool(input)?;
        let name = str_field(input, "Username")?;
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let user = users
            .get_mut(name)
            .ok_or_else(|| ApiError::new("UserNotFoundException", "User does not exist."))?;
        if mutating {
            user.calls += 1;
        }
        f(name, user)
    }

    pub fn admin_reset_user_password(&self, input: &Value) -> Result<Value, ApiError> {
        self.with_user(input, true, |_, u| {
            if !u.enabled {
                return Err(ApiError::new("NotAuthorizedException", "User is disabled."));
            }
            if matches!(u.status, Status::ForceChangePassword | Status::ExternalProvider) {
                return Err(ApiError::new("NotAuthorizedException", "User password cannot be reset in the current state."));
            }
            if !u.email_verified {
                return Err(ApiError::new(
                    "InvalidParameterException",
                    "Cannot reset password for the user as there is no registered/verified email or phone_number",
                ));
            }
            u.status = Status::ResetRequired;
            u.modified = now();
            u.mutations += 1;
            u.messages += 1;
            Ok(json!({}))
        })
    }

    pub fn admin_set_user_password(&self, input: &Value, history: bool) -> Result<Value, ApiError> {
        let password = str_field(input, "Password")?.to_string();
        let permanent = input
            .get("Permanent")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.with_user(input, true, |_, u| {
            if password.chars().count() < 8 {
                return Err(ApiError::new(
                    "InvalidPasswordException",
                    "Password did not conform with policy: Password not long enough",
                ));
            }
            if history && u.password.as_deref() == Some(password.as_str()) {
                return Err(ApiError::new(
                    "PasswordHistoryPolicyViolationException",
                    "The password has been used previously.",
                ));
            }
            if u.status == Status::ExternalProvider {
                return Err(ApiError::new(
                    "NotAuthorizedException",
                    "User password cannot be set for a federated user.",
                ));
            }
            u.status = if permanent {
                Status::Confirmed
            } else {
                Status::ForceChangePassword
            };
            u.password = Some(password);
            u.modified = now();
            u.mutations += 1;
            Ok(json!({}))
        })
    }

    pub fn admin_user_global_sign_out(&self, input: &Value) -> Result<Value, ApiError> {
        self.with_user(input, true, |_, u| {
            u.sign_outs += 1;
            u.mutations += 1;
            Ok(json!({}))
        })
    }

    pub fn admin_get_user(&self, input: &Value) -> Result<Value, ApiError> {
        self.with_user(input, false, |name, u| {
            let mut out = user_json(name, u);
            let attrs = out.remove("Attributes").unwrap_or(Value::Null);
            out.insert("UserAttributes".into(), attrs);
            Ok(Value::Object(out))
        })
    }

    pub fn admin_create_user(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let name = str_field(input, "Username")?.to_string();
        if let Err(reason) = crate::validate::check_username(&name) {
            return Err(ApiError::new("InvalidParameterException", reason));
        }
        let attr = |n: &str| {
            input
                .get("UserAttributes")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|x| x.get("Name").and_then(Value::as_str) == Some(n))
                })
                .and_then(|x| x.get("Value").and_then(Value::as_str))
                .map(str::to_string)
        };
        let mut user = SimUser::new(
            Status::ForceChangePassword,
            true,
            attr("email_verified").as_deref() == Some("true"),
        );
        user.email = attr("email");
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if users.contains_key(&name) {
            return Err(ApiError::new(
                "UsernameExistsException",
                "User account already exists",
            ));
        }
        let out = user_json(&name, &user);
        users.insert(name, user);
        Ok(json!({ "User": Value::Object(out) }))
    }

    /// ListUsers: pages in name order; the token is the last name returned.
    /// Filters: `attr = "v"` and `attr ^= "v"` on username, email,
    /// cognito:user_status and status (Enabled / Disabled).
    pub fn list_users(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let limit = input.get("Limit").and_then(Value::as_u64).unwrap_or(60);
        if limit > 60 {
            return Err(ApiError::new(
                "InvalidParameterException",
                "Limit must be between 0 and 60",
            ));
        }
        let limit = if limit == 0 { 60 } else { limit as usize };
        let filter = match input.get("Filter").and_then(Value::as_str) {
            Some(f) if !f.trim().is_empty() => Some(parse_filter(f)?),
            _ => None,
        };
        let after = input.get("PaginationToken").and_then(Value::as_str);
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let range = match after {
            Some(t) => {
                users.range::<str, _>((std::ops::Bound::Excluded(t), std::ops::Bound::Unbounded))
            }
            None => users.range::<str, _>(..),
        };
        let mut page = Vec::new();
        let mut last = None;
        let mut more = false;
        for (name, u) in range {
            if filter.as_ref().is_some_and(|f| !f.matches(name, u)) {
                continue;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(Value::Object(user_json(name, u)));
            last = Some(name.clone());
        }
        let mut out = json!({ "Users": page });
        if more {
            out["PaginationToken"] = Value::String(last.unwrap_or_default());
        }
        Ok(out)
    }
}

fn user_json(name: &str, u: &SimUser) -> Map<String, Value> {
    let mut attrs = vec![json!({"Name": "sub", "Value": format!("sub-{name}")})];
    if let Some(e) = &u.email {
        attrs.push(json!({"Name": "email", "Value": e}));
        attrs.push(json!({"Name": "email_verified", "Value": u.email_verified.to_string()}));
    }
    let v = json!({
        "Username": name,
        "Attributes": attrs,
        "UserCreateDate": u.created,
        "UserLastModifiedDate": u.modified,
        "Enabled": u.enabled,
        "UserStatus": u.status.as_str(),
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

struct Filter {
    attr: String,
    prefix: bool,
    value: String,
}

impl Filter {
    fn matches(&self, name: &str, u: &SimUser) -> bool {
        let actual = match self.attr.as_str() {
            "username" => name.to_string(),
            "email" => u.email.clone().unwrap_or_default(),
            "cognito:user_status" => u.status.as_str().to_string(),
            "status" => if u.enabled { "Enabled" } else { "Disabled" }.to_string(),
            "sub" => format!("sub-{name}"),
            _ => return false,
        };
        if self.prefix {
            actual.starts_with(&self.value)
        } else {
            actual == self.value
        }
    }
}

fn parse_filter(f: &str) -> Result<Filter, ApiError> {
    let bad = || ApiError::new("InvalidParameterException", "Error while parsing filter.");
    let (attr, prefix, rest) = if let Some((a, r)) = f.split_once("^=") {
        (a, true, r)
    } else if let Some((a, r)) = f.split_once('=') {
        (a, false, r)
    } else {
        return Err(bad());
    };
    let value = rest
        .trim()
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(bad)?;
    Ok(Filter {
        attr: attr.trim().trim_matches('"').to_string(),
        prefix,
        value: value.to_string(),
    })
}
