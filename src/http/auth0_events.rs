//! Auth0's two payloads for the lifecycle hook, parsed once into typed events:
//!
//! - a **Log Stream** of type custom webhook, in any of its three content formats (JSON Lines, a
//!   JSON array, or one JSON object), each entry `{"log_id", "data": {"type", "user_id", …}}`;
//!   `sdu` (successful user deletion) names the deleted user in `data.user_id`;
//! - an **Event Stream** webhook: CloudEvents 1.0 in structured mode, `{"specversion", "type",
//!   "id", "source", "time", "data": {"object": <user>}}` with `type` `user.deleted` or
//!   `user.updated` (the early-access documentation's `com.auth0.user.…` and `spec_version` are
//!   read too).
//!
//! Anything else that is an entry of either shape is an event visage ignores; a body that is not
//! such JSON, or a deletion or update that names no user, is refused whole (nothing applied).

use serde::Deserialize;
use serde_json::Value;

use crate::domain::lifecycle::hook::{Change, EventKind, LifecycleEvent};
use crate::ports::UserEmail;

/// Why a body is not an Auth0 delivery; the sentence goes to the sender.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NotADelivery(String);

/// A Log Stream entry.
#[derive(Deserialize)]
struct LogEntry {
    #[allow(dead_code)] // Required by the shape; not needed to apply it.
    log_id: String,
    data: LogData,
}

#[derive(Deserialize)]
struct LogData {
    #[serde(rename = "type")]
    kind: String,
    user_id: Option<String>,
}

/// A CloudEvent of an Event Stream.
#[derive(Deserialize)]
struct CloudEvent {
    #[serde(alias = "spec_version")]
    #[allow(dead_code)] // Required by the shape; not needed to apply it.
    specversion: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// The fields of Auth0's user object (`data.object`) that the hook reads.
#[derive(Deserialize)]
struct UserObject {
    user_id: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

/// The events of a hook body, in the order Auth0 sent them.
pub(crate) fn parse_delivery(body: &[u8]) -> Result<Vec<LifecycleEvent>, NotADelivery> {
    let mut entries = Vec::new();
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    for value in values.by_ref() {
        match value.map_err(|e| NotADelivery(format!("the body is not JSON: {e}")))? {
            Value::Array(items) => entries.extend(items),
            object @ Value::Object(_) => entries.push(object),
            _ => return Err(not_an_entry()),
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(NotADelivery(
            "the body is empty: expected Auth0 log events or a CloudEvent".into(),
        ));
    }
    entries.into_iter().map(event_of).collect()
}

fn not_an_entry() -> NotADelivery {
    NotADelivery(
        "expected Auth0 log events ({\"log_id\", \"data\"}: JSON Lines, an array or an object) or a CloudEvent ({\"specversion\", \"type\", \"data\"})".into(),
    )
}

fn event_of(entry: Value) -> Result<LifecycleEvent, NotADelivery> {
    if entry.get("specversion").is_some() || entry.get("spec_version").is_some() {
        let event: CloudEvent = serde_json::from_value(entry).map_err(|_| not_an_entry())?;
        return cloud_event(&event);
    }
    let log: LogEntry = serde_json::from_value(entry).map_err(|_| not_an_entry())?;
    if log.data.kind != "sdu" {
        return Ok(ignored());
    }
    let user_id = log
        .data
        .user_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| NotADelivery("an sdu log event without data.user_id".into()))?;
    Ok(LifecycleEvent {
        kind: EventKind::LogUserDeleted,
        change: Change::Deleted { user_id },
    })
}

fn cloud_event(event: &CloudEvent) -> Result<LifecycleEvent, NotADelivery> {
    let kind = event.kind.strip_prefix("com.auth0.").unwrap_or(&event.kind);
    let kind = match kind {
        "user.deleted" => EventKind::UserDeleted,
        "user.updated" => EventKind::UserUpdated,
        _ => return Ok(ignored()),
    };
    let user: UserObject = event
        .data
        .get("object")
        .cloned()
        .and_then(|object| serde_json::from_value(object).ok())
        .filter(|user: &UserObject| !user.user_id.is_empty())
        .ok_or_else(|| {
            NotADelivery(format!(
                "a {} event without data.object.user_id",
                kind.label()
            ))
        })?;
    let change = match kind {
        EventKind::UserDeleted => Change::Deleted {
            user_id: user.user_id,
        },
        _ => Change::EmailChanged {
            user_id: user.user_id,
            email: user.email.map(|address| UserEmail {
                address,
                verified: user.email_verified,
            }),
        },
    };
    Ok(LifecycleEvent { kind, change })
}

fn ignored() -> LifecycleEvent {
    LifecycleEvent {
        kind: EventKind::Other,
        change: Change::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/auth0-streams/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn deleted(user_id: &str, kind: EventKind) -> LifecycleEvent {
        LifecycleEvent {
            kind,
            change: Change::Deleted {
                user_id: user_id.into(),
            },
        }
    }

    #[test]
    fn every_log_stream_format_gives_the_same_events() {
        let expected = vec![
            ignored(),
            deleted("auth0|5f7c8ec7c33c6c004bbafe82", EventKind::LogUserDeleted),
        ];
        for name in ["log-stream-lines.jsonl", "log-stream-array.json"] {
            let events = parse_delivery(&fixture(name)).expect(name);
            assert_eq!(events, expected, "{name}");
        }
        let one = parse_delivery(&fixture("log-stream-object.json")).expect("object");
        assert_eq!(one, expected[1..]);
    }

    #[test]
    fn cloud_events_delete_or_relink() {
        let events = parse_delivery(&fixture("event-stream-user-deleted.json")).expect("deleted");
        assert_eq!(
            events,
            [deleted(
                "auth0|5f7c8ec7c33c6c004bbafe82",
                EventKind::UserDeleted
            )]
        );
        let events = parse_delivery(&fixture("event-stream-user-updated.json")).expect("updated");
        assert_eq!(
            events,
            [LifecycleEvent {
                kind: EventKind::UserUpdated,
                change: Change::EmailChanged {
                    user_id: "auth0|5f7c8ec7c33c6c004bbafe82".into(),
                    email: Some(UserEmail {
                        address: "jane.doe@example.com".into(),
                        verified: true,
                    }),
                },
            }]
        );
    }

    #[test]
    fn what_is_not_a_delivery_is_refused_whole() {
        for body in [
            &b""[..],
            b"  \n",
            b"not json",
            b"42",
            b"[1, 2]",
            br#"{"hello": "world"}"#,
            br#"{"log_id": "1", "data": {"type": "sdu"}}"#,
            br#"{"specversion": "1.0", "type": "user.deleted", "data": {}}"#,
            br#"[{"log_id": "1", "data": {"type": "s"}}] trailing"#,
        ] {
            assert!(
                parse_delivery(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(parse_delivery(b"[]").expect("an empty batch"), []);
    }
}
