//! Ready-made implementations of the [`crate::backend`] traits over the lab's own parts, so
//! `dojo up` only has to wire them: [`store`] reads the embedded trace store in-process.

pub mod store;
