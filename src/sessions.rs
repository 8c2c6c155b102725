//! How long a user's sessions outlive the job: the pool's app clients and
//! their token lifetimes (ListUserPoolClients, DescribeUserPoolClient), for
//! `plan`. What each action ends, from the API reference: a reset ends no
//! session (AdminResetUserPassword); a global sign-out revokes refresh
//! tokens, and Cognito stops accepting the user's access tokens for its
//! own operations, while a service that verifies tokens itself accepts the
//! access and ID tokens already issued until they expire
//! (AdminUserGlobalSignOut); AdminDisableUser also revokes the user's
//! access tokens and stops any new sign-in. Read at the UserPoolClientRead
//! limiter; a refusal is said, not fatal: the plan then cannot tell.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::cognito::{ClientTokens, Cognito};
use crate::ledger::{Action, Step};
use crate::limiter::Limiter;
use crate::retry::{call_with_retry, RetryPolicy};

/// App clients read, at most: a pool with more is summed over these and
/// the plan says so.
pub const MAX_CLIENTS: usize = 20;

/// The pool's app clients, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sessions {
    pub clients: Vec<Client>,
    /// The pool has clients past the first [`MAX_CLIENTS`], not read.
    pub more: bool,
    /// Why they could not be read (e.g. "AccessDeniedException: ...").
    pub unreadable: Option<String>,
}

/// One app client's token lifetimes, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    pub name: String,
    pub access_secs: u64,
    pub id_secs: u64,
    pub refresh_secs: u64,
    pub revocation: bool,
}

impl From<ClientTokens> for Client {
    fn from(c: ClientTokens) -> Client {
        Client {
            name: if c.name.is_empty() {
                c.client_id
            } else {
                c.name
            },
            access_secs: c.access.as_secs(),
            id_secs: c.id_token.as_secs(),
            refresh_secs: c.refresh.as_secs(),
            revocation: c.revocation,
        }
    }
}

/// Reads the pool's app clients and their lifetimes.
pub async fn read(cognito: &Cognito, limiter: &Arc<Limiter>, retry: &RetryPolicy) -> Sessions {
    let mut sessions = Sessions {
        clients: Vec::new(),
        more: false,
        unreadable: None,
    };
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let page =
            call_with_retry(limiter, retry, || cognito.list_clients_page(token.clone())).await;
        match page {
            Ok((clients, next)) => {
                ids.extend(clients);
                token = next;
            }
            Err(e) => {
                sessions.unreadable =
                    Some(format!("ListUserPoolClients: {}: {}", e.code, e.message));
                return sessions;
            }
        }
        if token.is_none() || ids.len() >= MAX_CLIENTS {
            break;
        }
    }
    sessions.more = ids.len() > MAX_CLIENTS || token.is_some();
    for (id, _) in ids.iter().take(MAX_CLIENTS) {
        match call_with_retry(limiter, retry, || cognito.describe_client(id)).await {
            Ok(client) => sessions.clients.push(client.into()),
            Err(e) => {
                sessions.unreadable =
                    Some(format!("DescribeUserPoolClient: {}: {}", e.code, e.message));
                return sessions;
            }
        }
    }
    sessions
}

/// A lifetime for a person: "1h", "30d", "5m".
pub fn lifetime(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => crate::progress::short_duration(s as f64),
    }
}

impl Sessions {
    /// The plan's lines: the longest lifetimes over the app clients, and
    /// what the run's action leaves of the users' sessions.
    pub fn render(&self, action: Action, steps: &[Step]) -> String {
        let mut s = String::new();
        if let Some(why) = &self.unreadable {
            let _ = writeln!(
                s,
                "  sessions             unknown: the app clients could not be read ({why}); allow cognito-idp:ListUserPoolClients and DescribeUserPoolClient to see how long tokens live"
            );
            return s;
        }
        if self.clients.is_empty() {
            let _ = writeln!(
                s,
                "  sessions             the pool has no app clients: no tokens to outlive the job"
            );
            return s;
        }
        let max = |f: fn(&Client) -> u64| self.clients.iter().map(f).max().unwrap_or(0);
        let (access, id, refresh) = (
            max(|c| c.access_secs),
            max(|c| c.id_secs),
            max(|c| c.refresh_secs),
        );
        let revoking = self.clients.iter().filter(|c| c.revocation).count();
        let _ = write!(
            s,
            "  sessions             {} app client(s): access tokens live up to {}, ID tokens up to {}, refresh tokens up to {}; token revocation on for {revoking} of them",
            self.clients.len(),
            lifetime(access),
            lifetime(id),
            lifetime(refresh)
        );
        if self.more {
            let _ = write!(s, " (the first {MAX_CLIENTS} read; the pool has more)");
        }
        let _ = writeln!(s);
        let (tokens, since) = (
            lifetime(access.max(id)),
            "services that verify tokens themselves",
        );
        let (sign_out, disable) = (
            steps.contains(&Step::SignOut),
            steps.contains(&Step::Disable),
        );
        let effect = match action {
            Action::Reset if disable => format!(
                "after the reset{}, the disable stops sign-in and refreshing, and revokes access tokens; ID tokens already issued stay valid up to {} for {since}",
                if sign_out { " and sign-out" } else { "" },
                lifetime(id)
            ),
            Action::Reset if !sign_out => format!(
                "a reset ends no session: refresh tokens keep working up to {}; add --sign-out to revoke them",
                lifetime(refresh)
            ),
            Action::Reset | Action::SignOut => format!(
                "after the sign-out, access and ID tokens already issued stay valid up to {tokens} for {since}; --action disable also stops new sign-ins and revokes access tokens"
            ),
            Action::SetPassword => format!(
                "a new password ends no session: refresh tokens keep working up to {}; --action sign-out revokes them",
                lifetime(refresh)
            ),
            Action::Disable => format!(
                "disabled users cannot sign in or refresh, and their access tokens are revoked; ID tokens already issued stay valid up to {} for {since}",
                lifetime(id)
            ),
            Action::Enable => "enabled users can sign in again".to_string(),
        };
        let _ = writeln!(s, "                       {effect}");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(access: u64, id: u64, refresh: u64, revocation: bool) -> Client {
        Client {
            name: "web".into(),
            access_secs: access,
            id_secs: id,
            refresh_secs: refresh,
            revocation,
        }
    }

    #[test]
    fn lifetimes_and_what_each_action_leaves() {
        assert_eq!(lifetime(3600), "1h");
        assert_eq!(lifetime(30 * 86_400), "30d");
        assert_eq!(lifetime(300), "5m");
        let s = Sessions {
            clients: vec![
                client(300, 3600, 86_400, true),
                client(7200, 3600, 30 * 86_400, false),
            ],
            more: false,
            unreadable: None,
        };
        let reset = s.render(Action::Reset, &[]);
        assert!(reset.contains("2 app client(s): access tokens live up to 2h, ID tokens up to 1h, refresh tokens up to 30d; token revocation on for 1 of them"), "{reset}");
        assert!(reset.contains("a reset ends no session"), "{reset}");
        let out = s.render(Action::Reset, &[Step::SignOut]);
        assert!(out.contains("stay valid up to 2h"), "{out}");
        assert!(s
            .render(Action::Disable, &[])
            .contains("access tokens are revoked"));
        let denied = Sessions {
            clients: vec![],
            more: false,
            unreadable: Some("ListUserPoolClients: AccessDeniedException: no".into()),
        };
        assert!(denied
            .render(Action::Reset, &[Step::SignOut])
            .contains("unknown"));
    }
}
