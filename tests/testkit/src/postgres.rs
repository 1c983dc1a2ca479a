//! A fresh, empty PostgreSQL database for each test.
//!
//! Where it comes from, in order:
//! 1. `DOJO_TEST_POSTGRES_URL`: a superuser URL of a running server (`.ci/run` starts one and
//!    sets it). Each call creates a new database with a random name on that server.
//! 2. Otherwise, with a Docker engine on the machine, testcontainers could start one; this
//!    machine has none, so that path is not compiled in here.
//!
//! With neither, [`fresh_database`] says what is missing. Under `CI=true` that is a failure, so a
//! CI run without PostgreSQL can never pass by skipping the PostgreSQL tests.

use anyhow::Context;
use sqlx::{Connection, PgConnection};

use dojo_defaults::env::TEST_POSTGRES_URL;

/// What a test gets: the URL of a database that exists only for it.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// A `postgres://` URL pointing at the new, empty database.
    pub url: String,
    /// The database's name, for messages.
    pub name: String,
}

/// Creates a new empty database on the configured server.
///
/// Returns `Ok(None)` when no server is configured and we are not in CI (the caller should
/// print the returned reason and skip); panics with a clear message in CI, where a missing
/// server is a failure.
pub async fn fresh_database() -> anyhow::Result<Option<TestDatabase>> {
    let Ok(admin_url) = std::env::var(TEST_POSTGRES_URL) else {
        let reason = format!(
            "PostgreSQL test skipped: set {TEST_POSTGRES_URL} to a superuser URL of a running \
             server (for example postgres://postgres@127.0.0.1:5432/postgres); `.ci/run` installs \
             and starts one"
        );
        if is_ci() {
            panic!("{reason} (CI=true: a missing PostgreSQL is a failure, not a skip)");
        }
        eprintln!("{reason}");
        return Ok(None);
    };
    let name = format!("dojo_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await.with_context(|| {
        format!("connecting to the test PostgreSQL server at {TEST_POSTGRES_URL}")
    })?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating test database {name}"))?;
    admin.close().await.ok();
    let url = replace_database(&admin_url, &name);
    Ok(Some(TestDatabase { url, name }))
}

/// True when running under CI (`CI=true`), where missing test dependencies are failures.
pub fn is_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Swaps the database name in a `postgres://user@host:port/db?params` URL.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_and_path = &base[scheme_end..];
    let authority = authority_and_path.split('/').next().unwrap_or("");
    let mut out = format!("{}{}/{}", &base[..scheme_end], authority, database);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5433/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5433/t1"
        );
        assert_eq!(
            replace_database("postgres://u:p@h:1/db?sslmode=disable", "t2"),
            "postgres://u:p@h:1/t2?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "t3"), "postgres://h/t3");
    }
}
