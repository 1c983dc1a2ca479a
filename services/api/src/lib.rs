//! The shop's business tier: catalogue, carts and orders in the database, payments at checkout.
