//! The words after `traceql` in a lesson's fence (`returns`, `nothing`, `with=FAULT:P=V`,
//! `secret`): what a lesson claims its example finds, and under which faults. Read by the
//! example checks and by the fault notes a lesson page shows; see [`super::examples`] for the
//! syntax.

use std::collections::BTreeMap;

/// What a lesson says a query finds in the running lab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Claim {
    /// Some traces (`returns`).
    #[default]
    Finds,
    /// No trace at all, although the lab has traffic (`nothing`).
    FindsNothing,
}

/// What a ```traceql fence's info string says about its block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marker {
    /// The lab state of the claim, as [`QueryExample::returns`].
    pub returns: Option<LabState>,
    /// The claim, as [`QueryExample::claim`].
    pub claim: Claim,
    /// The faults must not be named to the learner.
    pub secret: bool,
}

/// The faults that must be on for a `returns` claim; empty means the healthy shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabState {
    /// Sorted by fault id.
    pub faults: Vec<FaultSetting>,
}

impl std::fmt::Display for LabState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("every fault off");
        }
        let names: Vec<String> = self.faults.iter().map(FaultSetting::to_string).collect();
        write!(f, "with {}", names.join(", "))
    }
}

/// One fault to switch on, with parameters (strings, as the marker spells them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FaultSetting {
    pub id: String,
    pub params: BTreeMap<String, String>,
}

impl FaultSetting {
    /// The JSON body that switches this fault on through a service's `/admin/faults/{id}`:
    /// numbers as numbers, anything else as a string.
    pub fn activation_body(&self) -> serde_json::Value {
        let params: serde_json::Map<String, serde_json::Value> = self
            .params
            .iter()
            .map(|(name, value)| {
                let value = value
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .or_else(|_| value.parse::<f64>().map(serde_json::Value::from))
                    .unwrap_or_else(|_| serde_json::Value::from(value.as_str()));
                (name.clone(), value)
            })
            .collect();
        serde_json::json!({ "params": params })
    }
}

impl std::fmt::Display for FaultSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)?;
        for (name, value) in &self.params {
            write!(f, ":{name}={value}")?;
        }
        Ok(())
    }
}

/// Reads the words after `traceql` in a fence's info string.
pub fn parse_marker(info: &str) -> Result<Marker, String> {
    let mut returns = false;
    let mut nothing = false;
    let mut secret = false;
    let mut faults = Vec::new();
    for word in info.split_whitespace().skip(1) {
        if word == "returns" {
            returns = true;
        } else if word == "nothing" {
            nothing = true;
        } else if word == "secret" {
            secret = true;
        } else if let Some(setting) = word.strip_prefix("with=") {
            faults.push(parse_setting(setting)?);
        } else {
            return Err(format!(
                "unknown word {word:?} after ```traceql; write `returns` when the lesson says the \
                 query finds traces in the lab, `nothing` when it says the query finds none, \
                 `with=FAULT[:PARAM=VALUE]` for each fault it needs, and `secret` when the page \
                 must not name the fault"
            ));
        }
    }
    if returns && nothing {
        return Err(
            "a block says either `returns` (it finds traces) or `nothing` (it finds none), not both"
                .to_string(),
        );
    }
    if !returns && !nothing {
        return if faults.is_empty() && !secret {
            Ok(Marker::default())
        } else {
            Err(
                "`with=` and `secret` need `returns` (or `nothing`) before them: ```traceql returns with=FAULT"
                    .to_string(),
            )
        };
    }
    faults.sort();
    if faults.windows(2).any(|pair| pair[0].id == pair[1].id) {
        return Err("a fault is named twice in `with=`; name each fault once".to_string());
    }
    Ok(Marker {
        returns: Some(LabState { faults }),
        claim: if nothing {
            Claim::FindsNothing
        } else {
            Claim::Finds
        },
        secret,
    })
}

/// `FAULT[:PARAM=VALUE]...`
fn parse_setting(text: &str) -> Result<FaultSetting, String> {
    let mut parts = text.split(':');
    let id = parts.next().unwrap_or_default();
    if id.is_empty() {
        return Err("`with=` needs a fault id, e.g. `with=slow_query`".to_string());
    }
    let mut params = BTreeMap::new();
    for part in parts {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!(
                "fault parameter {part:?} in `with={text}` is not NAME=VALUE, e.g. `with=payments_failing:mode=error`"
            ));
        };
        if name.is_empty() || value.is_empty() {
            return Err(format!(
                "fault parameter {part:?} in `with={text}` needs a name and a value"
            ));
        }
        params.insert(name.to_string(), value.to_string());
    }
    Ok(FaultSetting {
        id: id.to_string(),
        params,
    })
}
