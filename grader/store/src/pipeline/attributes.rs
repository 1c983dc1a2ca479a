//! Attribute actions, like the collector's `attributes` processor (plus a value redaction
//! like its `redaction` processor): insert, update, upsert, delete, hash and redact.
//!
//! Actions name their attribute by exact `key` or by a regex `pattern` over keys. Pattern
//! matches are worked out once per distinct key per batch, not once per span, because the
//! same dozen keys repeat on every span.

use std::collections::HashMap;
use std::sync::Arc;

use dojo_traceql::model::{KeyValue, Value};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PipelineError;
use crate::otlp::convert::IncomingSpan;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Adds `key: value` when the span does not have `key`.
    Insert,
    /// Sets `key` to `value` when the span has `key`.
    Update,
    /// Sets `key` to `value` either way.
    Upsert,
    /// Removes the attribute(s).
    Delete,
    /// Replaces the value(s) with their SHA-256 in hex, so equal values stay equal.
    Hash,
    /// Masks string values: the parts matching `value_pattern`, or the whole value.
    Redact,
}

/// A literal value in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl ConfigValue {
    fn to_value(&self) -> Value {
        match self {
            ConfigValue::Bool(b) => Value::Bool(*b),
            ConfigValue::Int(i) => Value::Int(*i),
            ConfigValue::Float(f) => Value::Float(*f),
            ConfigValue::Str(s) => Value::str(s.as_str()),
        }
    }
}

/// One entry of `pipeline.attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeAction {
    pub action: ActionKind,
    /// The attribute key, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A regex over attribute keys (delete, hash, redact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The value to insert, update or upsert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ConfigValue>,
    /// Redact: a regex over string values; only the matching parts are masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_pattern: Option<String>,
    /// Redact: what replaces a masked part (default `****`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// The platform collector's scrubbing: no credentials in stored spans, no raw SQL.
pub fn default_actions() -> Vec<AttributeAction> {
    let delete = |pattern: &str| AttributeAction {
        action: ActionKind::Delete,
        key: None,
        pattern: Some(pattern.to_string()),
        value: None,
        value_pattern: None,
        replacement: None,
    };
    let hash = |key: &str| AttributeAction {
        action: ActionKind::Hash,
        key: Some(key.to_string()),
        pattern: None,
        value: None,
        value_pattern: None,
        replacement: None,
    };
    vec![
        delete(
            r"(?i)^http\.(request|response)\.header\.(authorization|proxy-authorization|cookie|set-cookie)$",
        ),
        hash("db.statement"),
        hash("db.query.text"),
    ]
}

#[derive(Debug)]
enum Target {
    Key(String),
    /// Index into the pattern list, whose matches are cached per key.
    Pattern(usize),
    All,
}

#[derive(Debug)]
struct Compiled {
    kind: ActionKind,
    target: Target,
    value: Option<Value>,
    value_regex: Option<Regex>,
    replacement: Arc<str>,
}

/// The compiled actions.
#[derive(Debug, Default)]
pub struct AttributeActions {
    actions: Vec<Compiled>,
    patterns: Vec<Regex>,
}

/// Regexes from configuration are bounded like the TraceQL engine's.
fn build_regex(text: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(text)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex {text:?}: {e}"))
}

impl AttributeActions {
    pub fn new(config: &[AttributeAction]) -> Result<Self, PipelineError> {
        let mut out = AttributeActions::default();
        if config.iter().filter(|a| a.pattern.is_some()).count() > 64 {
            return Err(PipelineError::Attribute {
                index: 64,
                message: "at most 64 actions may use a pattern".into(),
            });
        }
        for (index, action) in config.iter().enumerate() {
            let fail = |message: String| PipelineError::Attribute { index, message };
            let target = match (&action.key, &action.pattern) {
                (Some(_), Some(_)) => {
                    return Err(fail("give either key or pattern, not both".into()));
                }
                (Some(key), None) => Target::Key(key.clone()),
                (None, Some(pattern)) => {
                    out.patterns.push(build_regex(pattern).map_err(&fail)?);
                    Target::Pattern(out.patterns.len() - 1)
                }
                (None, None)
                    if action.action == ActionKind::Redact && action.value_pattern.is_some() =>
                {
                    Target::All
                }
                (None, None) => return Err(fail("an action needs a key or a pattern".into())),
            };
            let needs_value = matches!(
                action.action,
                ActionKind::Insert | ActionKind::Update | ActionKind::Upsert
            );
            if needs_value && action.value.is_none() {
                return Err(fail(
                    format!("{:?} needs a value", action.action).to_lowercase(),
                ));
            }
            if needs_value && !matches!(target, Target::Key(_)) {
                return Err(fail(
                    "insert, update and upsert need a key, not a pattern".into(),
                ));
            }
            if action.value_pattern.is_some() && action.action != ActionKind::Redact {
                return Err(fail("value_pattern only applies to redact".into()));
            }
            let value_regex = action
                .value_pattern
                .as_deref()
                .map(build_regex)
                .transpose()
                .map_err(&fail)?;
            out.actions.push(Compiled {
                kind: action.action,
                target,
                value: action.value.as_ref().map(ConfigValue::to_value),
                value_regex,
                replacement: Arc::from(action.replacement.as_deref().unwrap_or("****")),
            });
        }
        Ok(out)
    }

    /// Applies every action, in order, to every span.
    pub fn apply(&self, spans: &mut [IncomingSpan]) {
        if self.actions.is_empty() {
            return;
        }
        let mut cache = KeyCache::default();
        for incoming in spans.iter_mut() {
            let attributes = &mut incoming.span.attributes;
            for action in &self.actions {
                self.apply_one(action, attributes, &mut cache);
            }
        }
    }

    fn pattern_mask(&self, key: &Arc<str>, cache: &mut KeyCache) -> u64 {
        if let Some(mask) = cache.get(key) {
            return mask;
        }
        let mask = self
            .patterns
            .iter()
            .enumerate()
            .filter(|(_, re)| re.is_match(key))
            .fold(0u64, |mask, (i, _)| mask | (1 << i));
        cache.insert(key, mask);
        mask
    }

    fn targets(&self, target: &Target, key: &Arc<str>, cache: &mut KeyCache) -> bool {
        match target {
            Target::Key(k) => **key == **k,
            Target::Pattern(i) => self.pattern_mask(key, cache) & (1 << i) != 0,
            Target::All => true,
        }
    }

    fn apply_one(&self, action: &Compiled, attributes: &mut Vec<KeyValue>, cache: &mut KeyCache) {
        match action.kind {
            ActionKind::Insert | ActionKind::Update | ActionKind::Upsert => {
                let (Target::Key(key), Some(value)) = (&action.target, &action.value) else {
                    return;
                };
                match attributes.iter_mut().find(|kv| *kv.key == **key) {
                    Some(kv) if action.kind != ActionKind::Insert => kv.value = value.clone(),
                    Some(_) => {}
                    None if action.kind != ActionKind::Update => {
                        attributes.push(KeyValue::new(key.as_str(), value.clone()));
                    }
                    None => {}
                }
            }
            ActionKind::Delete => {
                attributes.retain(|kv| !self.targets(&action.target, &kv.key, cache))
            }
            ActionKind::Hash => {
                for kv in attributes.iter_mut() {
                    if self.targets(&action.target, &kv.key, cache) {
                        kv.value = Value::str(sha256_hex(&kv.value.to_string()));
                    }
                }
            }
            ActionKind::Redact => {
                for kv in attributes.iter_mut() {
                    if self.targets(&action.target, &kv.key, cache) {
                        redact(&mut kv.value, action);
                    }
                }
            }
        }
    }
}

/// Which patterns match a key, remembered per batch. Keys are interned per batch, so the same
/// key is usually the same `Arc`: a pointer comparison over a short list finds it before any
/// string is hashed.
#[derive(Default)]
struct KeyCache {
    recent: Vec<(Arc<str>, u64)>,
    by_text: HashMap<Arc<str>, u64>,
}

/// Keys remembered by pointer; a batch rarely has more distinct keys.
const RECENT_KEYS: usize = 32;

impl KeyCache {
    fn get(&self, key: &Arc<str>) -> Option<u64> {
        self.recent
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, key))
            .map(|(_, mask)| *mask)
            .or_else(|| self.by_text.get(key).copied())
    }

    fn insert(&mut self, key: &Arc<str>, mask: u64) {
        if self.recent.len() < RECENT_KEYS {
            self.recent.push((key.clone(), mask));
        }
        self.by_text.insert(key.clone(), mask);
    }
}

fn redact(value: &mut Value, action: &Compiled) {
    match value {
        Value::Str(text) => match &action.value_regex {
            Some(re) => {
                if re.is_match(text) {
                    *text = Arc::from(re.replace_all(text, &*action.replacement).as_ref());
                }
            }
            None => *text = action.replacement.clone(),
        },
        Value::Array(items) => {
            let mut items_vec = items.to_vec();
            items_vec.iter_mut().for_each(|item| redact(item, action));
            *items = items_vec.into();
        }
        _ if action.value_regex.is_none() => *value = Value::Str(action.replacement.clone()),
        _ => {}
    }
}

/// Lower-case hex SHA-256, as the collector's hash action writes it.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_traceql::model::{Span, TraceId, attribute};

    fn span_with(attributes: Vec<KeyValue>) -> IncomingSpan {
        IncomingSpan {
            trace_id: TraceId([1; 16]),
            span: Span {
                attributes,
                ..Default::default()
            },
            bytes: 0,
        }
    }

    fn run(yaml: &str, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
        let config: Vec<AttributeAction> = serde_yaml::from_str(yaml).unwrap();
        let actions = AttributeActions::new(&config).unwrap();
        let mut spans = vec![span_with(attributes)];
        actions.apply(&mut spans);
        spans.remove(0).span.attributes
    }

    #[test]
    fn the_defaults_delete_credential_headers_and_hash_statements() {
        let actions = AttributeActions::new(&default_actions()).unwrap();
        let mut spans = vec![span_with(vec![
            KeyValue::new(
                "http.request.header.authorization",
                Value::str("Bearer s3cret"),
            ),
            KeyValue::new("http.request.header.Cookie", Value::str("session=abc")),
            KeyValue::new("db.statement", Value::str("SELECT 1")),
            KeyValue::new("http.route", Value::str("/cart")),
        ])];
        actions.apply(&mut spans);
        let attrs = &spans[0].span.attributes;
        assert_eq!(attrs.len(), 2, "{attrs:?}");
        assert_eq!(
            attribute(attrs, "db.statement"),
            Some(&Value::str(sha256_hex("SELECT 1")))
        );
        assert_eq!(attribute(attrs, "http.route"), Some(&Value::str("/cart")));
    }

    #[test]
    fn insert_keeps_an_existing_value_and_upsert_replaces_it() {
        let attrs = run(
            "- {action: insert, key: env, value: lab}\n- {action: insert, key: tier, value: 1}\n- {action: upsert, key: team, value: red}",
            vec![
                KeyValue::new("env", Value::str("prod")),
                KeyValue::new("team", Value::str("blue")),
            ],
        );
        assert_eq!(attribute(&attrs, "env"), Some(&Value::str("prod")));
        assert_eq!(attribute(&attrs, "tier"), Some(&Value::Int(1)));
        assert_eq!(attribute(&attrs, "team"), Some(&Value::str("red")));
    }

    #[test]
    fn update_only_touches_present_keys() {
        let attrs = run("- {action: update, key: missing, value: x}", vec![]);
        assert!(attrs.is_empty());
    }

    #[test]
    fn delete_by_pattern_removes_every_matching_key() {
        let attrs = run(
            r"- {action: delete, pattern: '^user\.'}",
            vec![
                KeyValue::new("user.email", Value::str("a@b.c")),
                KeyValue::new("user.id", Value::Int(4)),
                KeyValue::new("order.id", Value::Int(5)),
            ],
        );
        assert_eq!(attrs, vec![KeyValue::new("order.id", Value::Int(5))]);
    }

    #[test]
    fn redact_masks_only_the_matching_part_of_values() {
        let attrs = run(
            r"- {action: redact, value_pattern: '\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b'}",
            vec![KeyValue::new(
                "note",
                Value::str("card 4111 1111 1111 1111 declined"),
            )],
        );
        assert_eq!(
            attribute(&attrs, "note"),
            Some(&Value::str("card **** declined"))
        );
    }

    #[test]
    fn redact_by_key_masks_the_whole_value() {
        let attrs = run(
            "- {action: redact, key: password, replacement: '[hidden]'}",
            vec![KeyValue::new("password", Value::str("hunter2"))],
        );
        assert_eq!(attribute(&attrs, "password"), Some(&Value::str("[hidden]")));
    }

    #[test]
    fn bad_actions_are_refused_with_their_index() {
        let cases = [
            (
                "- {action: delete}",
                "pipeline.attributes[0]: an action needs a key or a pattern",
            ),
            (
                "- {action: hash, key: a}\n- {action: insert, key: b}",
                "pipeline.attributes[1]: insert needs a value",
            ),
            (
                "- {action: delete, pattern: '('}",
                "pipeline.attributes[0]: invalid regex",
            ),
        ];
        for (yaml, expected) in cases {
            let config: Vec<AttributeAction> = serde_yaml::from_str(yaml).unwrap();
            let error = AttributeActions::new(&config).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{yaml}: {error}");
        }
    }
}
