//! The simulated pool's state and the Cognito operations on it.
//!
//! Every behaviour here follows the AWS documentation, cited where it is
//! modelled (docs/identity.md collects the same facts with their
//! sources), including those the tool would rather not meet:
//!
//! - **Who is a user.** Each user has a username, a `sub` (a UUID) and
//!   optional email, phone number and preferred_username. The admin
//!   operations accept as `Username` the username, an alias, or the sub
//!   ([`Pool::resolve`]). A pool is case-sensitive or case-insensitive, and
//!   has either alias attributes or username attributes ([`PoolSettings`]).
//! - **What a reset needs.** Self-service account recovery, a verified email
//!   or phone, an enabled user in a resettable state; the default email
//!   sender's daily cap; a per-user limit on reset attempts in an hour.
//! - **What set-password does to a federated user**: it becomes CONFIRMED.
//! - **Billing.** Users touched by AdminGetUser, AdminSetUserPassword or
//!   AdminUserGlobalSignOut are counted as monthly active users.
//!
//! Every applied call is counted per user, and so is every message Cognito
//! would have sent.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

mod filter;
mod model;
mod users;

use filter::parse_filter;
pub use model::{
    uuid_for, ApiError, AppClient, EmailSending, LoginAttribute, PoolSettings, SimUser, Status,
};
pub use users::Users;
use users::{TAG_EMAIL, TAG_PHONE, TAG_PREFERRED, TAG_SUB, TAG_USERNAME};

/// Emails the default sender has sent today, for the whole account: the
/// pools of one account share one.
#[derive(Debug, Default)]
pub struct EmailDay {
    day: u64,
    sent: u32,
}

/// A simulated user pool.
#[derive(Debug)]
pub struct Pool {
    pub pool_id: String,
    /// The pool's name (ListUserPools, DescribeUserPool).
    pub name: String,
    pub settings: PoolSettings,
    pub users: Mutex<Users>,
    /// The pool's groups (CreateGroup); members are in each user's `groups`.
    pub groups: Mutex<std::collections::BTreeSet<String>>,
    emails: Arc<Mutex<EmailDay>>,
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
    pub fn new(pool_id: String, settings: PoolSettings) -> Pool {
        Pool::named(pool_id, "simulated".into(), settings)
    }

    /// A pool called `name`.
    pub fn named(pool_id: String, name: String, settings: PoolSettings) -> Pool {
        Pool {
            pool_id,
            name,
            settings,
            users: Mutex::new(Users::default()),
            groups: Mutex::default(),
            emails: Arc::default(),
        }
    }

    /// Counts this pool's emails with `emails`, the day's count of its
    /// account's other pools (the default sender's cap is the account's).
    pub fn sharing_emails(mut self, emails: Arc<Mutex<EmailDay>>) -> Pool {
        self.emails = emails;
        self
    }

    /// How a name compares in this pool. UsernameConfigurationType
    /// (API reference): with CaseSensitive false, "users can sign in using
    /// username, USERNAME, or UserName", and it "also enables both
    /// preferred_username and email alias to be case insensitive". Phone
    /// numbers and subs have no case to fold.
    pub fn fold(&self, value: &str) -> String {
        if self.settings.case_insensitive {
            value.to_lowercase()
        } else {
            value.to_string()
        }
    }

    /// Records `n` reset attempts for `name` now, as other callers' would
    /// be (toward the per-user hourly limit).
    pub fn spend_reset_attempts(&self, name: &str, n: usize) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = users.by_name.get_mut(name) {
            u.reset_attempts.extend(std::iter::repeat_n(now(), n));
        }
    }

    /// Adds or replaces a user (see `Users::insert`).
    pub fn put(&self, name: &str, user: SimUser) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.insert(|v| self.fold(v), name.to_string(), user);
    }

    /// The username a `Username` parameter names, as Cognito resolves it.
    ///
    /// AdminGetUser (API reference), Username: "The value of this parameter
    /// is typically your user's username, but it can be any of their alias
    /// attributes. If username isn't an alias attribute in your user pool,
    /// this value must be the sub of a local user". Developer guide, "User
    /// pool attributes", Customizing sign-in attributes: an email or phone
    /// alias must be verified to sign in with; with email or phone as
    /// username attributes, Cognito gives the user a UUID username and the
    /// email or phone need not be verified.
    pub fn resolve(&self, users: &Users, value: &str) -> Option<String> {
        let s = &self.settings;
        let folded = self.fold(value);
        if let Some(name) = users.lookup(TAG_USERNAME, &folded) {
            return Some(name.clone());
        }
        let login = |attr: LoginAttribute| {
            s.username_attributes.contains(&attr) || s.alias_attributes.contains(&attr)
        };
        let verified_needed = |attr: LoginAttribute| !s.username_attributes.contains(&attr);
        if login(LoginAttribute::Email) {
            if let Some(name) = users.lookup(TAG_EMAIL, &folded) {
                let u = &users.by_name[name];
                if u.email_verified || !verified_needed(LoginAttribute::Email) {
                    return Some(name.clone());
                }
            }
        }
        if login(LoginAttribute::PhoneNumber) {
            if let Some(name) = users.lookup(TAG_PHONE, value) {
                let u = &users.by_name[name];
                if u.phone_number_verified || !verified_needed(LoginAttribute::PhoneNumber) {
                    return Some(name.clone());
                }
            }
        }
        if login(LoginAttribute::PreferredUsername) {
            if let Some(name) = users.lookup(TAG_PREFERRED, &folded) {
                return Some(name.clone());
            }
        }
        users.lookup(TAG_SUB, value).cloned()
    }

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

    /// Runs `f` on the user `Username` names; a mutating call is counted in
    /// `calls` whatever `f` answers, and a billed one marks the user a
    /// monthly active user.
    fn with_user<T>(
        &self,
        input: &Value,
        mutating: bool,
        billed: bool,
        f: impl FnOnce(&str, &mut SimUser) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.check_pool(input)?;
        let value = str_field(input, "Username")?;
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let name = self
            .resolve(&users, value)
            .ok_or_else(|| ApiError::new("UserNotFoundException", "User does not exist."))?;
        let user = users
            .by_name
            .get_mut(&name)
            .expect("resolve returns held users");
        if mutating {
            user.calls += 1;
        }
        // Quotas, "Monthly active users": an admin query of a user's
        // details, an admin password set and a global sign-out each make
        // the user a billed monthly active user.
        if billed {
            user.billed = true;
        }
        f(&name, user)
    }

    /// AdminResetUserPassword.
    /// `attempts_per_hour`: reset attempts a user may have in an hour
    /// (0: no limit).
    pub fn admin_reset_user_password(
        &self,
        input: &Value,
        attempts_per_hour: u32,
    ) -> Result<Value, ApiError> {
        let s = &self.settings;
        self.with_user(input, true, false, |_, u| {
            // API reference, AdminResetUserPassword: "To use this API
            // operation, your user pool must have self-service account
            // recovery configured." The error a pool with admin-only
            // recovery gets is not documented; NotAuthorized is the code
            // Cognito gives a user that cannot be reset.
            if s.admin_only_recovery {
                return Err(ApiError::new(
                    "NotAuthorizedException",
                    "Cannot reset password for the user as self-service account recovery is not enabled for the user pool (admin_only).",
                ));
            }
            // Developer guide, "Recovering user accounts", Forgot password
            // behavior: "In a given hour, we allow between 5 and 20
            // attempts for a user to request or enter a password reset
            // code". The simulation allows the low end.
            if attempts_per_hour > 0 {
                let t = now();
                u.reset_attempts.retain(|at| t - at < 3600.0);
                if u.reset_attempts.len() >= attempts_per_hour as usize {
                    return Err(ApiError::new(
                        "LimitExceededException",
                        "Attempt limit exceeded, please try after some time.",
                    ));
                }
                u.reset_attempts.push(t);
            }
            if !u.enabled {
                return Err(ApiError::new("NotAuthorizedException", "User is disabled."));
            }
            if matches!(u.status, Status::ForceChangePassword | Status::ExternalProvider) {
                return Err(ApiError::new(
                    "NotAuthorizedException",
                    "User password cannot be reset in the current state.",
                ));
            }
            // The code goes to a verified email first, then a verified
            // phone (the default recovery priority, "Recovering user
            // accounts"); with neither, InvalidParameterException.
            if u.email_verified && u.email.is_some() {
                self.send_email()?;
            } else if !(u.phone_number_verified && u.phone_number.is_some()) {
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

    /// Counts one email against the default sender's daily cap.
    /// EmailConfigurationType (API reference), COGNITO_DEFAULT: "Amazon
    /// Cognito allows only a limited number of emails each day"; the
    /// quotas page gives 50 a day for the account. Past it, the call fails
    /// with LimitExceededException and is not carried out.
    fn send_email(&self) -> Result<(), ApiError> {
        if self.settings.email_sending_account != EmailSending::CognitoDefault {
            return Ok(());
        }
        let day = (now() / 86_400.0) as u64;
        let mut e = self.emails.lock().unwrap_or_else(|e| e.into_inner());
        if e.day != day {
            *e = EmailDay { day, sent: 0 };
        }
        if e.sent >= self.settings.daily_email_cap {
            return Err(ApiError::new(
                "LimitExceededException",
                "Exceeded daily email limit for the operation or the account. If a higher limit is required, please configure your user pool to use your own Amazon SES configuration for sending email.",
            ));
        }
        e.sent += 1;
        Ok(())
    }

    /// AdminSetUserPassword.
    pub fn admin_set_user_password(&self, input: &Value, history: bool) -> Result<Value, ApiError> {
        let password = str_field(input, "Password")?.to_string();
        let permanent = input
            .get("Permanent")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.with_user(input, true, true, |_, u| {
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
            // API reference, AdminSetUserPassword: it "can set a password
            // for the user profile that Amazon Cognito creates for
            // third-party federated users. When you set a password, the
            // federated user's status changes from EXTERNAL_PROVIDER to
            // CONFIRMED."
            u.status = if permanent || u.status == Status::ExternalProvider {
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

    /// AdminUserGlobalSignOut.
    pub fn admin_user_global_sign_out(&self, input: &Value) -> Result<Value, ApiError> {
        self.with_user(input, true, true, |_, u| {
            u.sign_outs += 1;
            u.mutations += 1;
            Ok(json!({}))
        })
    }

    /// AdminDisableUser (`enabled` false) and AdminEnableUser (true). API
    /// reference, AdminDisableUser: "Deactivates a user profile and revokes
    /// all access tokens for the user. A deactivated user can't sign in,
    /// but still appears in the responses to ListUsers API requests";
    /// AdminEnableUser: "Activates sign-in for a user profile that
    /// previously had sign-in access disabled". Both answer an empty
    /// object; the user's status is left as it was, and a repeat succeeds
    /// again (neither page lists an error for a user already in the
    /// state). The "Monthly active users" list does not name them: the
    /// simulation bills them, as the tool counts them.
    pub fn admin_set_enabled(&self, input: &Value, enabled: bool) -> Result<Value, ApiError> {
        self.with_user(input, true, true, |_, u| {
            if !enabled && u.enabled {
                u.access_revocations += 1;
            }
            u.enabled = enabled;
            u.mutations += 1;
            u.modified = now();
            Ok(json!({}))
        })
    }

    /// Adds a group to the pool, as CreateGroup does, with these members
    /// (AdminAddUserToGroup). Names that are no user are left out.
    pub fn add_group(&self, group: &str, members: &[String]) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(group.to_string());
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for name in members {
            if let Some(u) = users.by_name.get_mut(name) {
                if !u.groups.iter().any(|g| g == group) {
                    u.groups.push(group.to_string());
                }
            }
        }
    }

    /// ListUsersInGroup (API reference): the users of `GroupName`, at most
    /// `Limit` (0 to 60; 60 by default) a page, each as ListUsers gives it,
    /// with a `NextToken` while more remain. A group the pool does not have
    /// is ResourceNotFoundException. It takes no filter.
    pub fn list_users_in_group(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let group = str_field(input, "GroupName")?;
        if !self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(group)
        {
            return Err(ApiError::new(
                "ResourceNotFoundException",
                "Group not found.",
            ));
        }
        let limit = page_limit(input)?;
        let after = input.get("NextToken").and_then(Value::as_str);
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let (page, next) = page_of(&users, after, limit, |_, u| {
            u.groups.iter().any(|g| g == group)
        });
        let mut out = json!({ "Users": page });
        if let Some(token) = next {
            out["NextToken"] = Value::String(token);
        }
        Ok(out)
    }

    /// ListUserPoolClients (API reference): the pool's app clients,
    /// `MaxResults` (1 to 60) a page, `NextToken` while more remain; each
    /// as `ClientId`, `ClientName`, `UserPoolId`.
    pub fn list_user_pool_clients(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let max = input
            .get("MaxResults")
            .and_then(Value::as_u64)
            .unwrap_or(60);
        if !(1..=60).contains(&max) {
            return Err(ApiError::new(
                "InvalidParameterException",
                "MaxResults must be between 1 and 60",
            ));
        }
        let start: usize = input
            .get("NextToken")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let clients = &self.settings.app_clients;
        let end = (start + max as usize).min(clients.len());
        let page: Vec<Value> = clients[start.min(end)..end]
            .iter()
            .map(|c| json!({ "ClientId": c.client_id, "ClientName": c.client_name, "UserPoolId": self.pool_id }))
            .collect();
        let mut out = json!({ "UserPoolClients": page });
        if end < clients.len() {
            out["NextToken"] = Value::String(end.to_string());
        }
        Ok(out)
    }

    /// DescribeUserPoolClient (API reference): one app client's settings,
    /// the token validities among them; an unknown `ClientId` is
    /// ResourceNotFoundException.
    pub fn describe_user_pool_client(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let id = str_field(input, "ClientId")?;
        let c = self
            .settings
            .app_clients
            .iter()
            .find(|c| c.client_id == id)
            .ok_or_else(|| {
                ApiError::new(
                    "ResourceNotFoundException",
                    format!("User pool client {id} does not exist."),
                )
            })?;
        let mut client = json!({
            "ClientId": c.client_id,
            "ClientName": c.client_name,
            "UserPoolId": self.pool_id,
            "EnableTokenRevocation": c.enable_token_revocation,
        });
        for (field, value) in [
            ("AccessTokenValidity", c.access_token_validity),
            ("IdTokenValidity", c.id_token_validity),
            ("RefreshTokenValidity", c.refresh_token_validity),
        ] {
            if let Some(v) = value {
                client[field] = json!(v);
            }
        }
        if let Some([access, id_token, refresh]) = c.units {
            client["TokenValidityUnits"] =
                json!({ "AccessToken": access, "IdToken": id_token, "RefreshToken": refresh });
        }
        Ok(json!({ "UserPoolClient": client }))
    }

    /// AdminGetUser: the canonical username and the user's attributes.
    pub fn admin_get_user(&self, input: &Value) -> Result<Value, ApiError> {
        self.with_user(input, false, true, |name, u| {
            let mut out = user_json(name, u);
            let attrs = out.remove("Attributes").unwrap_or(Value::Null);
            out.insert("UserAttributes".into(), attrs);
            Ok(Value::Object(out))
        })
    }

    /// AdminCreateUser. In a pool with username attributes, a `Username`
    /// that is an email or phone number becomes that attribute and the
    /// user gets a UUID username equal to its sub (developer guide,
    /// Customizing sign-in attributes).
    pub fn admin_create_user(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let given = str_field(input, "Username")?.to_string();
        if let Some(reason) = crate::username::refusal(&given) {
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
        user.phone_number = attr("phone_number");
        user.phone_number_verified = attr("phone_number_verified").as_deref() == Some("true");
        user.preferred_username = attr("preferred_username");
        let s = &self.settings;
        let name = if s.username_attributes.contains(&LoginAttribute::Email) && given.contains('@')
        {
            user.email = Some(given.clone());
            uuid_for(&format!("{given}/{}", fastrand::u64(..)))
        } else if s.username_attributes.contains(&LoginAttribute::PhoneNumber)
            && given.starts_with('+')
        {
            user.phone_number = Some(given.clone());
            uuid_for(&format!("{given}/{}", fastrand::u64(..)))
        } else {
            given.clone()
        };
        user.sub = if s.username_attributes.is_empty() {
            uuid_for(&format!("{name}/{}", fastrand::u64(..)))
        } else {
            name.clone()
        };
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if self.resolve(&users, &given).is_some() {
            return Err(ApiError::new(
                "UsernameExistsException",
                "User account already exists",
            ));
        }
        let out = user_json(&name, &user);
        users.insert(|v| self.fold(v), name, user);
        Ok(json!({ "User": Value::Object(out) }))
    }

    /// ListUsers: pages in name order; the token is the last name returned.
    /// Filters (API reference, ListUsers): `attr = "v"` (exact) and
    /// `attr ^= "v"` (prefix) on username, email, phone_number,
    /// preferred_username, sub, cognito:user_status and status (Enabled /
    /// Disabled). Username, email and preferred_username compare by the
    /// pool's case rule (UsernameConfigurationType: case insensitivity
    /// applies to "all username input through Amazon Cognito APIs"). The
    /// ListUsers reference marks the username filter "case-sensitive"
    /// without saying how that meets a case-insensitive pool; the tool does
    /// not depend on which reading holds (docs/identity.md).
    pub fn list_users(&self, input: &Value) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let limit = page_limit(input)?;
        let filter = match input.get("Filter").and_then(Value::as_str) {
            Some(f) if !f.trim().is_empty() => Some(parse_filter(f)?),
            _ => None,
        };
        let after = input.get("PaginationToken").and_then(Value::as_str);
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        // An exact filter on a name is answered from the index.
        if let Some(f) = filter.as_ref().filter(|f| !f.prefix) {
            let key = match f.attr.as_str() {
                "username" => Some((TAG_USERNAME, self.fold(&f.value))),
                "email" => Some((TAG_EMAIL, self.fold(&f.value))),
                "preferred_username" => Some((TAG_PREFERRED, self.fold(&f.value))),
                "phone_number" => Some((TAG_PHONE, f.value.clone())),
                "sub" => Some((TAG_SUB, f.value.clone())),
                _ => None,
            };
            if let Some((tag, folded)) = key {
                let page: Vec<Value> = users
                    .lookup(tag, &folded)
                    .filter(|name| after.is_none_or(|t| name.as_str() > t))
                    .map(|name| Value::Object(user_json(name, &users.by_name[name])))
                    .into_iter()
                    .collect();
                return Ok(json!({ "Users": page }));
            }
        }
        let (page, next) = page_of(&users, after, limit, |name, u| {
            filter.as_ref().is_none_or(|f| f.matches(self, name, u))
        });
        let mut out = json!({ "Users": page });
        if let Some(token) = next {
            out["PaginationToken"] = Value::String(token);
        }
        Ok(out)
    }

    /// DescribeUserPool: the pool's settings, as the API reference's
    /// UserPoolType names them; its `Arn` ("The Amazon Resource Name (ARN)
    /// for the user pool", `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID`)
    /// names `account`, the pool's.
    pub fn describe_user_pool(
        &self,
        input: &Value,
        password_history: bool,
        account: &str,
    ) -> Result<Value, ApiError> {
        self.check_pool(input)?;
        let s = &self.settings;
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let recovery = if s.admin_only_recovery {
            json!([{ "Name": "admin_only", "Priority": 1 }])
        } else {
            json!([
                { "Name": "verified_email", "Priority": 1 },
                { "Name": "verified_phone_number", "Priority": 2 }
            ])
        };
        let mut pool = json!({
            "Id": self.pool_id,
            "Arn": format!(
                "arn:aws:cognito-idp:{}:{account}:userpool/{}",
                super::pool_region(&self.pool_id),
                self.pool_id
            ),
            "Name": self.name,
            "Policies": { "PasswordPolicy": {
                "MinimumLength": 8, "RequireUppercase": true, "RequireLowercase": true,
                "RequireNumbers": true, "RequireSymbols": true,
                "PasswordHistorySize": if password_history { 1 } else { 0 },
            }},
            "UsernameConfiguration": { "CaseSensitive": !s.case_insensitive },
            "EstimatedNumberOfUsers": users.by_name.len(),
            "EmailConfiguration": { "EmailSendingAccount": match s.email_sending_account {
                EmailSending::CognitoDefault => "COGNITO_DEFAULT",
                EmailSending::Developer => "DEVELOPER",
            }},
            "AccountRecoverySetting": { "RecoveryMechanisms": recovery },
            "UserPoolTier": s.tier,
            "LambdaConfig": {},
        });
        if !s.username_attributes.is_empty() {
            pool["UsernameAttributes"] = s
                .username_attributes
                .iter()
                .map(|a| Value::from(a.as_str()))
                .collect();
        }
        if !s.alias_attributes.is_empty() {
            pool["AliasAttributes"] = s
                .alias_attributes
                .iter()
                .map(|a| Value::from(a.as_str()))
                .collect();
        }
        if s.sms_configured {
            pool["SmsConfiguration"] =
                json!({ "SnsCallerArn": "arn:aws:iam::123456789012:role/cognito-sms" });
        }
        let lambda = "arn:aws:lambda:us-east-1:123456789012:function:simulated";
        if s.custom_message_lambda {
            pool["LambdaConfig"]["CustomMessage"] = json!(lambda);
        }
        if s.custom_email_sender {
            pool["LambdaConfig"]["CustomEmailSender"] =
                json!({ "LambdaVersion": "V1_0", "LambdaArn": lambda });
        }
        Ok(json!({ "UserPool": pool }))
    }
}

fn user_json(name: &str, u: &SimUser) -> Map<String, Value> {
    let mut attrs = vec![json!({"Name": "sub", "Value": u.sub})];
    if let Some(e) = &u.email {
        attrs.push(json!({"Name": "email", "Value": e}));
        attrs.push(json!({"Name": "email_verified", "Value": u.email_verified.to_string()}));
    }
    if let Some(p) = &u.phone_number {
        attrs.push(json!({"Name": "phone_number", "Value": p}));
        attrs.push(
            json!({"Name": "phone_number_verified", "Value": u.phone_number_verified.to_string()}),
        );
    }
    if let Some(p) = &u.preferred_username {
        attrs.push(json!({"Name": "preferred_username", "Value": p}));
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

#[cfg(test)]
mod tests;

/// A page of at most `limit` of the users `keep` keeps, in name order after
/// the name `after`, and the token of the next page (the page's last name)
/// while more remain: ListUsers' and ListUsersInGroup's paging alike.
fn page_of(
    users: &Users,
    after: Option<&str>,
    limit: usize,
    keep: impl Fn(&str, &SimUser) -> bool,
) -> (Vec<Value>, Option<String>) {
    let range = match after {
        Some(t) => users
            .by_name
            .range::<str, _>((std::ops::Bound::Excluded(t), std::ops::Bound::Unbounded)),
        None => users.by_name.range::<str, _>(..),
    };
    let mut page = Vec::new();
    let mut last = None;
    for (name, u) in range.filter(|(name, u)| keep(name, u)) {
        if page.len() == limit {
            return (page, last);
        }
        page.push(Value::Object(user_json(name, u)));
        last = Some(name.clone());
    }
    (page, None)
}

/// A listing's `Limit`: 0 to 60, where 0 (or none) means 60 (API
/// reference, ListUsers and ListUsersInGroup).
fn page_limit(input: &Value) -> Result<usize, ApiError> {
    match input.get("Limit").and_then(Value::as_u64).unwrap_or(60) {
        0 => Ok(60),
        n @ 1..=60 => Ok(n as usize),
        _ => Err(ApiError::new(
            "InvalidParameterException",
            "Limit must be between 0 and 60",
        )),
    }
}
