//! Who may change whose picture (the caller's own, or anyone's with the admin permission), and
//! how often (the per-user rate limit): the one gate every upload and delete passes.

use crate::domain::rate_limit::{RetryAfter, UploadRateLimiter};
use crate::ports::tokens::VerifiedToken;

/// The user that `/v1/me/picture` means in dev mode.
pub(crate) const DEV_USER: &str = "dev|local";

/// Who is calling, as the HTTP edge established it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Dev mode: no token, the path decides.
    Dev,
    Token(VerifiedToken),
}

/// Whose picture a request addresses.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Me,
    User(&'a str),
}

/// The user id whose picture `caller` may change at `target`, or why not (a sentence for a 403).
///
/// A user token acts on its own `sub`, and on anyone only when the tenant granted it
/// `admin_permission` through RBAC (its `permissions` claim). A machine token has no picture of
/// its own and acts only with `admin_permission` in its `scope`. A user token's `scope` never
/// makes an admin: with RBAC off, Auth0 lets any user request any scope of the API.
pub(crate) fn authorize(
    caller: &Caller,
    target: Target<'_>,
    admin_permission: &str,
) -> Result<String, String> {
    let token = match caller {
        Caller::Dev => {
            return Ok(match target {
                Target::Me => DEV_USER.to_owned(),
                Target::User(id) => id.to_owned(),
            });
        }
        Caller::Token(token) => token,
    };
    let admin = token.is_granted(admin_permission);
    if token.is_machine() && !admin {
        return Err(format!(
            "a machine token needs the {admin_permission} scope"
        ));
    }
    match target {
        Target::Me if token.is_machine() => {
            Err("a machine token has no picture of its own: use /v1/users/{user_id}/picture".into())
        }
        Target::Me => Ok(token.subject.clone()),
        Target::User(id) if id == token.subject || admin => Ok(id.to_owned()),
        Target::User(_) => Err(format!(
            "this token may only change its own picture (an admin needs the {admin_permission} permission, granted through a role)"
        )),
    }
}

/// Why the gate refused a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not this caller's picture, or not this kind of caller (a sentence for a 403).
    #[error("{0}")]
    Forbidden(String),
    /// Over `limits.uploads_per_minute` for this user.
    #[error("too many uploads and deletes for this user")]
    TooMany(RetryAfter),
}

/// Authorization and the per-user rate limit, in that order: a refused caller spends nothing of
/// anyone's budget.
pub struct AccessGate {
    admin_permission: String,
    rate: UploadRateLimiter,
}

impl AccessGate {
    /// `admin_permission` is `auth.admin_scope`; `per_minute` is `limits.uploads_per_minute`.
    pub fn new(admin_permission: impl Into<String>, per_minute: u32) -> Self {
        Self {
            admin_permission: admin_permission.into(),
            rate: UploadRateLimiter::new(per_minute),
        }
    }

    /// The user whose picture `caller` may change now at `target`, or why not.
    pub fn admit(&self, caller: &Caller, target: Target<'_>) -> Result<String, Refusal> {
        let user = authorize(caller, target, &self.admin_permission).map_err(Refusal::Forbidden)?;
        self.rate.admit(&user).map_err(Refusal::TooMany)?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "write:avatars";

    /// A token as Auth0 issues it: `{client}@clients` subjects are client-credentials grants
    /// of that client, every other subject a user's login.
    fn token(subject: &str, scope: &str, permissions: &[&str]) -> Caller {
        let client = subject.strip_suffix("@clients");
        Caller::Token(VerifiedToken {
            subject: subject.to_owned(),
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            grant_type: client.map(|_| "client-credentials".to_owned()),
            authorized_party: client.map(str::to_owned),
        })
    }

    /// A user of a custom database connection whose id ends in `@clients`, with RBAC off: asks
    /// for the admin scope at login and gets it in `scope`. Still a user, never an admin.
    #[test]
    fn a_user_whose_id_ends_in_at_clients_is_not_a_machine() {
        let mallory = "auth0|mallory@clients";
        let caller = Caller::Token(VerifiedToken {
            subject: mallory.to_owned(),
            scopes: vec!["openid".to_owned(), ADMIN.to_owned()],
            permissions: Vec::new(),
            grant_type: None,
            authorized_party: Some("spa-client".to_owned()),
        });
        assert!(authorize(&caller, Target::User("auth0|bob"), ADMIN).is_err());
        assert_eq!(
            authorize(&caller, Target::Me, ADMIN).ok().as_deref(),
            Some(mallory)
        );
    }

    /// Every combination of user/machine × scope/permissions × own/other user.
    #[test]
    fn admin_comes_from_permissions_for_users_and_scope_for_machines() {
        let alice = "auth0|alice";
        let bob = "auth0|bob";
        let machine = "m2m-app@clients";
        // (who, scope, permissions, target, allowed)
        let cases: &[(&str, &str, &[&str], Target<'_>, bool)] = &[
            // a user, no admin grant
            (alice, "openid", &[], Target::Me, true),
            (alice, "openid", &[], Target::User(alice), true),
            (alice, "openid", &[], Target::User(bob), false),
            // a user who asked for the admin scope at login (RBAC off): still not an admin
            (
                alice,
                "openid write:avatars",
                &[],
                Target::User(alice),
                true,
            ),
            (alice, "openid write:avatars", &[], Target::User(bob), false),
            (
                alice,
                "write:avatars",
                &["read:avatars"],
                Target::User(bob),
                false,
            ),
            // a user granted the permission through a role
            (alice, "openid", &[ADMIN], Target::User(bob), true),
            (alice, "openid", &[ADMIN], Target::User(alice), true),
            (alice, "openid", &[ADMIN], Target::Me, true),
            // a machine token: scope is the client grant
            (machine, ADMIN, &[], Target::User(bob), true),
            (
                machine,
                "read:x write:avatars",
                &[],
                Target::User(alice),
                true,
            ),
            (machine, ADMIN, &[], Target::Me, false),
            (machine, "read:avatars", &[], Target::User(bob), false),
            (machine, "", &[ADMIN], Target::User(bob), false),
            (machine, "", &[], Target::User(machine), false),
        ];
        for (who, scope, permissions, target, allowed) in cases {
            let outcome = authorize(&token(who, scope, permissions), *target, ADMIN);
            assert_eq!(
                outcome.is_ok(),
                *allowed,
                "{who} scope={scope:?} permissions={permissions:?} {target:?}: {outcome:?}"
            );
            if let (Ok(user), Target::User(id)) = (&outcome, target) {
                assert_eq!(user, id);
            }
        }
    }

    #[test]
    fn dev_mode_acts_for_the_path() {
        assert_eq!(
            authorize(&Caller::Dev, Target::Me, ADMIN).ok().as_deref(),
            Some(DEV_USER)
        );
        assert_eq!(
            authorize(&Caller::Dev, Target::User("auth0|x"), ADMIN)
                .ok()
                .as_deref(),
            Some("auth0|x")
        );
    }

    #[test]
    fn the_gate_authorizes_first_then_counts_the_admitted_user() {
        let gate = AccessGate::new(ADMIN, 2);
        let alice = token("auth0|alice", "", &[]);
        // Refused callers spend nothing of the target's budget.
        for _ in 0..5 {
            assert!(matches!(
                gate.admit(&alice, Target::User("auth0|bob")),
                Err(Refusal::Forbidden(_))
            ));
        }
        let bob = token("auth0|bob", "", &[]);
        assert_eq!(
            gate.admit(&bob, Target::Me).ok().as_deref(),
            Some("auth0|bob")
        );
        assert_eq!(
            gate.admit(&bob, Target::Me).ok().as_deref(),
            Some("auth0|bob")
        );
        assert!(matches!(
            gate.admit(&bob, Target::Me),
            Err(Refusal::TooMany(_))
        ));
        // Another user has a budget of their own.
        assert!(gate.admit(&alice, Target::Me).is_ok());
    }
}
