//! The simulated pool's data: its settings, its users, and the errors it
//! answers with.

use super::now;

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

/// An attribute a user can sign in with besides the username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginAttribute {
    #[value(name = "email")]
    Email,
    #[value(name = "phone_number")]
    PhoneNumber,
    #[value(name = "preferred_username")]
    PreferredUsername,
}

impl LoginAttribute {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginAttribute::Email => "email",
            LoginAttribute::PhoneNumber => "phone_number",
            LoginAttribute::PreferredUsername => "preferred_username",
        }
    }
}

/// Who sends the pool's email (EmailConfigurationType.EmailSendingAccount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmailSending {
    /// Cognito's built-in sender, with a small daily cap.
    #[value(name = "COGNITO_DEFAULT")]
    CognitoDefault,
    /// The account's own Amazon SES identity.
    #[value(name = "DEVELOPER")]
    Developer,
}

/// The pool's settings, as CreateUserPool would set them; DescribeUserPool
/// reports them back.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct PoolSettings {
    /// Usernames (and email and preferred_username) match in any case
    /// (UsernameConfiguration.CaseSensitive = false).
    #[arg(long)]
    pub case_insensitive: bool,

    /// Users sign in with these instead of a username, and get a UUID
    /// username equal to their sub (UsernameAttributes).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        conflicts_with = "alias_attributes"
    )]
    pub username_attributes: Vec<LoginAttribute>,

    /// Users may also sign in with these (AliasAttributes).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub alias_attributes: Vec<LoginAttribute>,

    /// Account recovery is admin-only (AccountRecoverySetting admin_only):
    /// AdminResetUserPassword cannot be used.
    #[arg(long)]
    pub admin_only_recovery: bool,

    /// Who sends email (EmailSendingAccount).
    #[arg(long, value_enum, default_value = "DEVELOPER")]
    pub email_sending_account: EmailSending,

    /// Emails a day the default sender (COGNITO_DEFAULT) sends for the account.
    #[arg(long, default_value_t = 50)]
    pub daily_email_cap: u32,

    /// The pool has an SMS configuration (an SNS role).
    #[arg(long)]
    pub sms_configured: bool,

    /// Feature plan (UserPoolTier): LITE, ESSENTIALS or PLUS.
    #[arg(long, default_value = "ESSENTIALS")]
    pub tier: String,

    /// Custom message Lambda trigger attached.
    #[arg(long)]
    pub custom_message_lambda: bool,

    /// Custom email sender Lambda trigger attached.
    #[arg(long)]
    pub custom_email_sender: bool,

    /// The pool's app clients (ListUserPoolClients,
    /// DescribeUserPoolClient); none unless a test adds them.
    #[arg(skip)]
    pub app_clients: Vec<AppClient>,
}

/// An app client, as DescribeUserPoolClient shows it (API reference,
/// UserPoolClientType, TokenValidityUnitsType). A validity left `None` is
/// absent from the answer, as for a client made without one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppClient {
    pub client_id: String,
    pub client_name: String,
    pub access_token_validity: Option<i64>,
    pub id_token_validity: Option<i64>,
    pub refresh_token_validity: Option<i64>,
    /// `TokenValidityUnits`: access, ID, refresh (`seconds`, `minutes`,
    /// `hours`, `days`); `None`: absent (the defaults: hours, hours, days).
    pub units: Option<[&'static str; 3]>,
    pub enable_token_revocation: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            case_insensitive: false,
            username_attributes: Vec::new(),
            alias_attributes: Vec::new(),
            admin_only_recovery: false,
            email_sending_account: EmailSending::Developer,
            daily_email_cap: 50,
            sms_configured: false,
            tier: "ESSENTIALS".into(),
            custom_message_lambda: false,
            custom_email_sender: false,
            app_clients: Vec::new(),
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
    /// Filled with a UUID when the user is added, if empty.
    pub sub: String,
    /// Filled with `<username>@example.com` when the user is added, if `None`.
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
    pub preferred_username: Option<String>,
    pub created: f64,
    pub modified: f64,
    /// The password set last (the simulation keeps it to check set-password).
    pub password: Option<String>,
    /// Mutating calls that reached this user, whatever their answer.
    pub calls: u32,
    /// Mutating calls carried out on this user (reset, set-password, sign-out).
    pub mutations: u32,
    /// Messages Cognito would have sent (reset codes), by email or SMS.
    pub messages: u32,
    pub sign_outs: u32,
    /// Times AdminDisableUser revoked the user's access tokens (it took an
    /// enabled user to disabled).
    pub access_revocations: u32,
    /// The groups the user is in (ListUsersInGroup).
    pub groups: Vec<String>,
    /// Billed as a monthly active user by an admin read or write.
    pub billed: bool,
    /// When this user's recent reset attempts came (seconds since the epoch).
    pub(super) reset_attempts: Vec<f64>,
}

impl SimUser {
    pub fn new(status: Status, enabled: bool, verified_email: bool) -> SimUser {
        SimUser {
            status,
            enabled,
            sub: String::new(),
            email: None,
            email_verified: verified_email,
            phone_number: None,
            phone_number_verified: false,
            preferred_username: None,
            created: now(),
            modified: now(),
            password: None,
            calls: 0,
            mutations: 0,
            messages: 0,
            sign_outs: 0,
            access_revocations: 0,
            groups: Vec::new(),
            billed: false,
            reset_attempts: Vec::new(),
        }
    }
}

/// A sub for `seed`: a version-4-shaped UUID, the same for the same seed.
pub fn uuid_for(seed: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(seed.as_bytes());
    let b = h.to_be_bytes();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:01x}{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6] & 0x0f, b[7], 8 | (b[8] & 0x03), b[8] >> 4 & 0x0f, b[9],
        b[10], b[11], b[12], b[13], b[14], b[15]
    )
}
