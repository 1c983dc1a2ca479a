//! Visitors' sessions: who is reading (a learner who joined with a name, an instructor who gave
//! the token, or nobody yet), and the CSRF token every form of theirs must carry.
//!
//! A session is a random 128-bit id in an `HttpOnly`, `SameSite=Lax` cookie, mapped on the
//! server to its state; nothing about the learner is stored in the cookie itself. The
//! [`middleware`] gives every visitor a session before any handler runs, so even the join form
//! has a CSRF token.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;

use crate::backend::LearnerId;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "dojo_session";

/// How many sessions are kept; the oldest are forgotten first. A class is a few dozen people;
/// the bound only stops a script that never sends cookies from growing memory forever.
const MAX_SESSIONS: usize = 20_000;

/// What the course knows about one visitor, copied out for a request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visitor {
    /// The session id (the cookie value).
    pub id: String,
    /// The token forms must echo back.
    pub csrf: String,
    /// Set once the visitor joined as a learner: their id and display name.
    pub learner: Option<(LearnerId, String)>,
    /// Set once the visitor gave the instructor token.
    pub instructor: bool,
    /// Hints revealed per (lab, exercise), in order.
    pub hints: HashMap<(String, String), Vec<String>>,
}

/// The shared session table: a cheap handle.
#[derive(Clone, Default)]
pub struct Sessions {
    shared: Arc<Mutex<Table>>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Visitor>,
    /// Creation order, to forget the oldest when full.
    order: VecDeque<String>,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table half-updated in a way that
        // matters (each update is one insert or remove), so keep serving.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The visitor with this session id, if the session exists.
    pub fn get(&self, id: &str) -> Option<Visitor> {
        self.table().by_id.get(id).cloned()
    }

    /// Starts a new anonymous session.
    pub fn create(&self) -> Visitor {
        let visitor = Visitor {
            id: random_hex(),
            csrf: random_hex(),
            ..Visitor::default()
        };
        let mut table = self.table();
        table.order.push_back(visitor.id.clone());
        table.by_id.insert(visitor.id.clone(), visitor.clone());
        while table.order.len() > MAX_SESSIONS {
            if let Some(old) = table.order.pop_front() {
                table.by_id.remove(&old);
            }
        }
        visitor
    }

    /// Changes a session in place; returns the updated visitor.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Visitor)) -> Option<Visitor> {
        let mut table = self.table();
        let visitor = table.by_id.get_mut(id)?;
        change(visitor);
        Some(visitor.clone())
    }

    /// Moves a session to a fresh id (and a fresh CSRF token) when its privileges change
    /// (joining, the instructor signing in), so an id seen before cannot ride along. Returns
    /// the updated visitor; the caller sends [`cookie_for`] its new id.
    pub fn rotate(&self, id: &str, change: impl FnOnce(&mut Visitor)) -> Option<Visitor> {
        let mut table = self.table();
        let mut visitor = table.by_id.remove(id)?;
        change(&mut visitor);
        visitor.id = random_hex();
        visitor.csrf = random_hex();
        if let Some(slot) = table.order.iter_mut().find(|old| *old == id) {
            *slot = visitor.id.clone();
        }
        table.by_id.insert(visitor.id.clone(), visitor.clone());
        Some(visitor)
    }

    /// Forgets every session of a learner (after the instructor resets them, their hints go too).
    pub fn forget_hints_of(&self, learner: &LearnerId) {
        let mut table = self.table();
        for visitor in table.by_id.values_mut() {
            if visitor
                .learner
                .as_ref()
                .is_some_and(|(id, _)| id == learner)
            {
                visitor.hints.clear();
            }
        }
    }
}

/// Whether a submitted form token matches the session's, compared in constant time.
pub fn csrf_matches(visitor: &Visitor, submitted: &str) -> bool {
    let expected = visitor.csrf.as_bytes();
    let submitted = submitted.as_bytes();
    if expected.is_empty() || expected.len() != submitted.len() {
        return false;
    }
    expected
        .iter()
        .zip(submitted)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The session id from a request's cookies.
fn session_cookie(request: &Request) -> Option<String> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

/// Finds or starts the visitor's session, makes it available to handlers as an extension,
/// and sets the cookie on the response when the session is new.
pub async fn middleware(
    State(sessions): State<Sessions>,
    mut request: Request,
    next: Next,
) -> Response {
    let existing = session_cookie(&request).and_then(|id| sessions.get(&id));
    let (visitor, is_new) = match existing {
        Some(visitor) => (visitor, false),
        None => (sessions.create(), true),
    };
    let id = visitor.id.clone();
    request.extensions_mut().insert(visitor);
    let mut response = next.run(request).await;
    // A handler that rotated the session has set the cookie itself.
    if is_new
        && !response.headers().contains_key(SET_COOKIE)
        && let Some(value) = cookie_for(&id)
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// The `Set-Cookie` value for a session id.
pub fn cookie_for(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let visitor = Sessions::default().create();
        assert!(csrf_matches(&visitor, &visitor.csrf.clone()));
        assert!(!csrf_matches(&visitor, ""));
        assert!(!csrf_matches(&visitor, &"0".repeat(32)));
        assert!(
            !csrf_matches(&Visitor::default(), ""),
            "an empty expected token never matches"
        );
    }

    #[test]
    fn sessions_are_random_and_updates_stick() {
        let sessions = Sessions::default();
        let a = sessions.create();
        let b = sessions.create();
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, b.csrf);
        sessions.update(&a.id, |v| v.instructor = true);
        assert!(sessions.get(&a.id).is_some_and(|v| v.instructor));
        assert!(sessions.get("nope").is_none());
    }

    #[test]
    fn rotating_a_session_keeps_its_state_under_a_new_id_and_token() {
        let sessions = Sessions::default();
        let old = sessions.create();
        let new = sessions
            .rotate(&old.id, |v| v.instructor = true)
            .expect("the session exists");
        assert_ne!(new.id, old.id);
        assert_ne!(new.csrf, old.csrf);
        assert!(new.instructor);
        assert!(
            sessions.get(&old.id).is_none(),
            "the old id no longer works"
        );
        assert_eq!(sessions.get(&new.id), Some(new));
    }
}
