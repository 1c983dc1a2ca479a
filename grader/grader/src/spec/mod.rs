//! Lab specs: `labs/<lab>/lab.yaml` read, checked and kept in memory.
//!
//! A spec is validated as a whole when it is loaded: every problem is reported with the file,
//! the field (as a path such as `exercises[2].check.reference`) and what to do about it, so a
//! lab author fixes a spec from the message alone. A lab that loads is a lab that can be
//! graded: its queries parse, its ids are unique, its ground truth names real faults.
//!
//! Start at [`load_dir`]; the YAML shape is in [`types`].

pub mod duration;
mod load;
pub mod types;
mod validate;

pub use load::{LabSet, fault_ids, load_dir, load_file};
pub use validate::{Problem, SpecError};
