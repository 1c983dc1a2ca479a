//! The course book: the table of contents and every lesson, read from `content/` once at
//! start-up and rendered to HTML then, so serving a page is a lookup.
//!
//! Start with [`Course::load`]; [`summary`] reads the table of contents.

mod course;
mod error;
pub mod examples;
pub mod fault_notes;
pub mod marker;
mod shop_addresses;
pub mod summary;

pub use course::{Course, Lesson};
pub use error::ContentError;
pub use examples::{QueryExample, query_examples};
pub use shop_addresses::{fill_shop_addresses, shop_address_placeholder};
pub use summary::Chapter;
