//! The frontend's routes: server-rendered pages for shoppers ([`pages`]) and the same
//! journey as JSON for the load generator and scripts ([`json`]).

pub mod json;
pub mod pages;
pub mod retired;

/// Cents as a price a shopper reads.
pub fn money(cents: i64) -> String {
    format!("€{}.{:02}", cents / 100, (cents % 100).abs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn prices_show_euros_and_two_digit_cents() {
        assert_eq!(super::money(4900), "€49.00");
        assert_eq!(super::money(705), "€7.05");
    }
}
