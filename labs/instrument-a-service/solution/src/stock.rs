//! What the stock service knows: how many of each product the warehouse holds.
//!
//! The warehouse has records for products 1 to 10 only; asking for another product that the
//! catalogue has (11 or 12) is a data error, answered with a 500, which is how the lab
//! produces a failed request to trace.

/// Units in stock for a product, or `None` when the warehouse has no record of it.
pub fn units(product_id: u32) -> Option<u32> {
    (1..=10)
        .contains(&product_id)
        .then(|| (product_id * 7) % 23 + 1)
}
