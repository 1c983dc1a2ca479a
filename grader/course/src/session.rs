//! Visitors' sessions: who is reading (a learner who joined with a name, an instructor who gave
//! the token, or nobody yet), and the CSRF token every form of theirs must carry.
//!
//! A session is a random 128-bit id in an `HttpOnly`, `SameSite=Lax` cookie (and `Secure` when
//! a reverse proxy says the browser came over HTTPS), mapped on the server to its state; nothing about the learner is stored in the cookie itself. The
//! [`crate::session_middleware::middleware`] gives every visitor a session before any handler runs, so even the join form
//! has a CSRF token.
//!
//! Sessions live in memory. What must outlive a restart is who a browser is: when a learner
//! joins, their browser gets a second, long-lived cookie with a [`LearnerKey`], whose SHA-256
//! the progress store keeps as the claim on that name. A new session that arrives with the key
//! is signed back in, and nobody else can join with a claimed name without the key (shown to
//! the learner as a rejoin code, for another browser).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use axum::http::header::{COOKIE, SET_COOKIE};
use rand::RngCore;

use crate::backend::{Feedback, LearnerId};
pub use crate::secrets::LearnerKey;
use crate::secrets::Secret;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "dojo_session";

/// The cookie that keeps a learner's key across sessions and restarts.
pub const LEARNER_COOKIE: &str = "dojo_learner";

/// The cookie that keeps the instructor signed in across browser and course restarts.
pub const INSTRUCTOR_COOKIE: &str = "dojo_instructor";

/// How long a browser keeps the learner cookie: a course runs over days, not months.
const LEARNER_COOKIE_SECONDS: u32 = 30 * 24 * 3600;

/// How many sessions of each kind are kept. A class is a few dozen people; the bounds only
/// stop scripts from growing memory forever. Each kind has its own budget, so a flood of one
/// kind only ever forgets the oldest sessions of that kind: anonymous visitors (a script that
/// never sends cookies) cannot sign out learners or the instructor, and scripted joins cannot
/// sign out the instructor or keep a new instructor from signing in. A learner whose session
/// is forgotten is signed back in by their learner cookie on the next request.
const MAX_ANONYMOUS_SESSIONS: usize = 20_000;
const MAX_LEARNER_SESSIONS: usize = 5_000;
const MAX_INSTRUCTOR_SESSIONS: usize = 100;

/// The kinds of session, each with its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Anonymous = 0,
    Learner = 1,
    Instructor = 2,
}

impl Kind {
    fn of(visitor: &Visitor) -> Kind {
        if visitor.instructor {
            Kind::Instructor
        } else if visitor.learner.is_some() {
            Kind::Learner
        } else {
            Kind::Anonymous
        }
    }

    fn budget(self) -> usize {
        match self {
            Kind::Anonymous => MAX_ANONYMOUS_SESSIONS,
            Kind::Learner => MAX_LEARNER_SESSIONS,
            Kind::Instructor => MAX_INSTRUCTOR_SESSIONS,
        }
    }
}

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
    /// The key that holds the learner's name, from the join or the learner cookie.
    pub key: Option<LearnerKey>,
    /// Hints revealed per (lab, exercise), in order.
    pub hints: HashMap<(String, String), Vec<String>>,
    /// The grader's verdict on the last submission, shown once by the lab page the
    /// submission redirects to (post/redirect/get, so a reload never resubmits).
    pub flash: Option<Flash>,
}

/// A submission's outcome, carried from the POST that graded it to the page that shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub lab: String,
    pub exercise: String,
    pub feedback: Feedback,
    /// The submitted fields, to show them again in the form.
    pub fields: Vec<(String, String)>,
}

/// The shared session table: a cheap handle.
#[derive(Clone, Default)]
pub struct Sessions {
    shared: Arc<Mutex<Table>>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Visitor>,
    /// Per kind, ids in the order they became that kind, to forget the oldest when the kind
    /// is over its budget. An id whose session changed kind since stays behind as a stale
    /// entry, skipped (and dropped) when reached.
    order: [VecDeque<String>; 3],
    /// Sessions of each kind now.
    count: [usize; 3],
}

impl Table {
    /// Records that `id` is now of `kind` (new, or changed from `was`), then forgets the
    /// oldest sessions of that kind beyond its budget.
    fn settle(&mut self, id: &str, was: Option<Kind>, kind: Kind) {
        if let Some(was) = was {
            self.count[was as usize] -= 1;
        }
        self.count[kind as usize] += 1;
        self.order[kind as usize].push_back(id.to_owned());
        while self.count[kind as usize] > kind.budget() {
            let Some(oldest) = self.order[kind as usize].pop_front() else {
                break;
            };
            if self.by_id.get(&oldest).is_some_and(|v| Kind::of(v) == kind) {
                self.by_id.remove(&oldest);
                self.count[kind as usize] -= 1;
            }
        }
        // Sessions that change kind back and forth leave stale entries; keep them bounded.
        let queue = &mut self.order[kind as usize];
        if queue.len() > 2 * kind.budget() + 16 {
            let by_id = &self.by_id;
            queue.retain(|id| by_id.get(id).is_some_and(|v| Kind::of(v) == kind));
        }
    }

    /// Applies `change` to a session and keeps the budgets right if its kind changed.
    fn change(&mut self, id: &str, change: impl FnOnce(&mut Visitor)) -> Option<Visitor> {
        let visitor = self.by_id.get_mut(id)?;
        let was = Kind::of(visitor);
        change(visitor);
        let now = Kind::of(visitor);
        let copy = visitor.clone();
        if now != was {
            self.settle(id, Some(was), now);
        }
        Some(copy)
    }
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
        table.by_id.insert(visitor.id.clone(), visitor.clone());
        table.settle(&visitor.id, None, Kind::Anonymous);
        visitor
    }

    /// Changes a session in place; returns the updated visitor.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Visitor)) -> Option<Visitor> {
        self.table().change(id, change)
    }

    /// Moves a session to a fresh id (and a fresh CSRF token) when its privileges change
    /// (joining, the instructor signing in), so an id seen before cannot ride along. Returns
    /// the updated visitor; the caller sends [`cookie_for`] its new id.
    pub fn rotate(&self, id: &str, change: impl FnOnce(&mut Visitor)) -> Option<Visitor> {
        let mut table = self.table();
        let mut visitor = table.by_id.remove(id)?;
        let was = Kind::of(&visitor);
        table.count[was as usize] -= 1;
        change(&mut visitor);
        visitor.id = random_hex();
        visitor.csrf = random_hex();
        table.by_id.insert(visitor.id.clone(), visitor.clone());
        table.settle(&visitor.id, None, Kind::of(&visitor));
        Some(visitor)
    }

    /// Signs a learner out of every session (after the instructor resets them: their hints
    /// and their key go too, and they join again with their name).
    pub fn sign_out(&self, learner: &LearnerId) {
        let mut table = self.table();
        let theirs: Vec<String> = table
            .by_id
            .values()
            .filter(|v| v.learner.as_ref().is_some_and(|(id, _)| id == learner))
            .map(|v| v.id.clone())
            .collect();
        for id in theirs {
            table.change(&id, |visitor| {
                visitor.learner = None;
                visitor.key = None;
                visitor.hints.clear();
            });
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

/// The value of the named cookie in a request's headers.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_string())
}

/// The learner key a browser sent, if it sent a well-formed one.
pub fn learner_key_cookie(headers: &axum::http::HeaderMap) -> Option<LearnerKey> {
    cookie(headers, LEARNER_COOKIE).and_then(|value| LearnerKey::parse(&value))
}

/// What the instructor's long-lived cookie holds: a SHA-256 of the token under a fixed label.
/// It proves the token was given without being the token; a course restarted with a new token
/// no longer accepts it (that is how an instructor revokes it).
pub fn instructor_proof(token: &Secret) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(b"tracing-dojo instructor cookie v1\0");
    hash.update(token.expose().as_bytes());
    hex::encode(hash.finalize())
}

/// The `Set-Cookie` value that keeps the instructor signed in for a course's length.
pub fn instructor_cookie(token: &Secret) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{INSTRUCTOR_COOKIE}={}; Path=/; Max-Age={LEARNER_COOKIE_SECONDS}; HttpOnly; SameSite=Lax",
        instructor_proof(token)
    ))
    .ok()
}

/// True when the browser reached the course over HTTPS through a reverse proxy that says so
/// (`X-Forwarded-Proto: https`, or `Forwarded: proto=https`). The course itself serves plain
/// HTTP; a client that falsely claims HTTPS only gets cookies its browser will not send back
/// over plain HTTP.
pub fn served_over_https(headers: &axum::http::HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(axum::http::header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| {
            first.split(';').any(|pair| {
                pair.trim().split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        });
    forwarded_proto || forwarded
}

/// Adds `Secure` to every cookie a response sets, so the browser sends them over HTTPS only.
pub(crate) fn mark_cookies_secure(headers: &mut axum::http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let secured = match cookie.to_str() {
            Ok(text) if !text.to_ascii_lowercase().contains("; secure") => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
            }
            _ => cookie,
        };
        headers.append(SET_COOKIE, secured);
    }
}

/// The `Set-Cookie` value for a session id.
pub fn cookie_for(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

/// The `Set-Cookie` value that keeps a learner's key in their browser.
pub fn learner_cookie(key: &LearnerKey) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{LEARNER_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={LEARNER_COOKIE_SECONDS}",
        key.cookie_value()
    ))
    .ok()
}

/// The `Set-Cookie` value that removes the learner cookie (the learner left).
pub fn clear_learner_cookie() -> HeaderValue {
    HeaderValue::from_static("dojo_learner=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_keys_are_random_typeable_and_never_printed() {
        let key = LearnerKey::generate();
        assert_ne!(key, LearnerKey::generate());
        let code = key.rejoin_code();
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(LearnerKey::parse(&code), Some(key.clone()));
        assert_eq!(
            LearnerKey::parse(&code.to_lowercase().replace('-', " ")),
            Some(key.clone()),
            "typed in lower case with spaces"
        );
        assert_eq!(LearnerKey::parse("ABCD-EFGH-JKM"), None, "too short");
        assert_eq!(
            LearnerKey::parse("ABCD-EFGH-JKMI"),
            None,
            "I is not a key letter"
        );
        assert_eq!(key.hash().len(), 64);
        assert!(!format!("{key:?}").contains(key.cookie_value()));
    }

    fn signed_in_learner(sessions: &Sessions, name: &str) -> Visitor {
        let visitor = sessions.create();
        sessions
            .rotate(&visitor.id, |v| {
                v.learner = Some((LearnerId::for_name(name), name.into()))
            })
            .expect("the session exists")
    }

    #[test]
    fn a_flood_of_new_sessions_forgets_only_anonymous_ones() {
        let sessions = Sessions::default();
        let instructor = sessions.create();
        let instructor = sessions
            .rotate(&instructor.id, |v| v.instructor = true)
            .expect("exists");
        let learner = signed_in_learner(&sessions, "ada");
        let first_anonymous = sessions.create();
        for _ in 0..MAX_ANONYMOUS_SESSIONS + 10 {
            sessions.create();
        }
        assert!(sessions.get(&instructor.id).is_some_and(|v| v.instructor));
        assert!(
            sessions
                .get(&learner.id)
                .is_some_and(|v| v.learner.is_some())
        );
        assert!(sessions.get(&first_anonymous.id).is_none());
        let newest = sessions.create();
        assert!(sessions.get(&newest.id).is_some(), "a new session is kept");
        assert_eq!(sessions.table().by_id.len(), MAX_ANONYMOUS_SESSIONS + 2);
    }

    #[test]
    fn a_flood_of_joins_never_signs_out_the_instructor_or_blocks_a_new_one() {
        let sessions = Sessions::default();
        let early = sessions.create();
        let early = sessions
            .rotate(&early.id, |v| v.instructor = true)
            .expect("exists");
        for n in 0..MAX_LEARNER_SESSIONS + 100 {
            signed_in_learner(&sessions, &format!("bot-{n}"));
        }
        assert!(sessions.get(&early.id).is_some_and(|v| v.instructor));
        // A new visitor gets a session that sticks, and can sign in as the instructor.
        let visitor = sessions.create();
        assert!(sessions.get(&visitor.id).is_some(), "a new session is kept");
        let signed_in = sessions
            .rotate(&visitor.id, |v| v.instructor = true)
            .expect("the new session exists");
        assert!(sessions.get(&signed_in.id).is_some_and(|v| v.instructor));
        let table = sessions.table();
        assert_eq!(table.count[Kind::Learner as usize], MAX_LEARNER_SESSIONS);
        assert_eq!(table.count[Kind::Instructor as usize], 2);
    }

    #[test]
    fn sessions_that_change_kind_keep_the_counts_right() {
        let sessions = Sessions::default();
        let ada = signed_in_learner(&sessions, "ada");
        sessions.update(&ada.id, |v| v.learner = None);
        sessions.update(&ada.id, |v| {
            v.learner = Some((LearnerId::for_name("ada"), "Ada".into()))
        });
        sessions.sign_out(&LearnerId::for_name("ada"));
        let table = sessions.table();
        assert_eq!(table.count, [1, 0, 0]);
        assert_eq!(table.by_id.len(), 1);
    }

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
