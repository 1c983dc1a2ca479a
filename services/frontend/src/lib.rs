//! The shop's user-facing tier: server-rendered pages and JSON endpoints that call the api tier.
