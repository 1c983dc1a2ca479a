//! The same shop on PostgreSQL: migrations and seed data at start, and db spans that say
//! `postgresql`.

use crate::helpers::{Shop, ShopOptions, learner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_runs_on_postgresql_and_its_db_spans_say_so() {
    let Some(database) = dojo_testkit::postgres::fresh_database()
        .await
        .expect("creating a test database")
    else {
        return;
    };
    let shop = Shop::start(ShopOptions {
        database_url: Some(database.url.clone()),
        ..ShopOptions::default()
    })
    .await;
    let who = learner("pg");
    let (status, products) = shop
        .call(&who, reqwest::Method::GET, "/api/products", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        products.as_array().map(Vec::len),
        Some(12),
        "the seed catalogue is there"
    );
    let (status, order) = shop.checkout(&who, "4242424242424242").await;
    assert_eq!(status, 201, "checkout on PostgreSQL: {order}");
    let traces = shop.traces_of(&who).await;
    let db: Vec<_> = traces
        .values()
        .flatten()
        .filter(|s| s.attr_str("db.operation.name").is_some())
        .collect();
    assert!(!db.is_empty());
    assert!(
        db.iter()
            .all(|s| s.attr_str("db.system") == Some("postgresql")),
        "db.system is postgresql"
    );
    assert!(
        db.iter()
            .any(|s| s.attr_str("db.collection.name") == Some("orders")),
        "the order was written:\n  {}\napi log: {:?}",
        crate::helpers::describe(&traces.values().flatten().cloned().collect::<Vec<_>>()),
        shop.api.lines()
    );
}
