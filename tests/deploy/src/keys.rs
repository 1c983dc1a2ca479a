//! Recorded configuration keys: a tree of the keys a pinned tool accepts (Tempo's, the
//! collector components'), read from `tests/deploy/data/`, and the walk that finds a key a
//! configuration uses but the tool does not have — at any depth, so a typo nested three levels
//! down fails a test instead of a start-up in a classroom.
//!
//! In a key tree a mapping lists the keys allowed at that level; `~` accepts any value unchecked;
//! a mapping whose only key is `"*"` accepts any key; a one-item list describes every item.

use serde_yaml::Value;

/// Keys of `config` that `schema` (a recorded key tree) does not have, as dotted paths.
pub fn unknown_keys(config: &Value, schema: &Value, path: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    match (config, schema) {
        (_, Value::Null) => {}
        (Value::Mapping(map), Value::Mapping(allowed)) => {
            let free = allowed.len() == 1 && allowed.contains_key("*");
            for (key, value) in map {
                let name = key.as_str().unwrap_or("<not a string>");
                let here = if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                match allowed.get(name).or_else(|| free.then(|| &allowed["*"])) {
                    Some(child) => unknown.extend(unknown_keys(value, child, &here)),
                    None => unknown.push(here),
                }
            }
        }
        (Value::Sequence(items), Value::Sequence(shape)) => {
            if let Some(item_schema) = shape.first() {
                for (index, item) in items.iter().enumerate() {
                    unknown.extend(unknown_keys(item, item_schema, &format!("{path}[{index}]")));
                }
            }
        }
        // A scalar where the schema has structure, or the other way round: Tempo refuses it
        // too, but that is a type error the parse tests catch; only names are checked here.
        _ => {}
    }
    unknown
}
