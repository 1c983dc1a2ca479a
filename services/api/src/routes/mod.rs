//! The api's routes, one module per resource: the catalogue, carts and orders.

pub mod carts;
pub mod catalogue;
pub mod orders;
