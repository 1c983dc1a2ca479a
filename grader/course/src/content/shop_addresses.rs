//! Shop addresses in lessons: rendered once with a placeholder per service, filled in with
//! the running lab's addresses when a page is served.

/// Where a lesson's HTML names a shop service's base URL (`http://127.0.0.1:8082`): rendering
/// happens once at load, before the running lab's ports are known, so lessons carry this
/// placeholder and the page is filled in when served (see [`fill_shop_addresses`]).
pub fn shop_address_placeholder(service: &str) -> String {
    format!("dojo-shop-address:{service}")
}

/// `html` with every shop-address placeholder replaced by the running service's base URL
/// from `shop` (`(service, base URL)`), or its default local address when the lab has none.
pub fn fill_shop_addresses(html: &str, shop: &[(String, String)]) -> String {
    if !html.contains("dojo-shop-address:") {
        return html.to_string();
    }
    let mut out = html.to_string();
    for (service, port) in [
        ("frontend", dojo_defaults::FRONTEND_PORT),
        ("api", dojo_defaults::API_PORT),
        ("payments", dojo_defaults::PAYMENTS_PORT),
    ] {
        let url = shop
            .iter()
            .find(|(name, _)| name == service)
            .map(|(_, url)| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://localhost:{port}"));
        out = out.replace(
            &shop_address_placeholder(service),
            &crate::markdown::escape(&url),
        );
    }
    out
}
