//! The shop's database: SQLite in a file by default, PostgreSQL when `DATABASE_URL` says
//! `postgres://`. Both run the same SQL (numbered `$1` placeholders work in both), each from
//! its own migration folder, so the two paths stay obvious.
//!
//! Every query runs inside a CLIENT span with `db.system`, `db.operation.name`,
//! `db.collection.name` and `db.query.text` (the statement with placeholders, never values);
//! every connection is taken from the pool inside a `db.pool.acquire` span, so waiting for a
//! connection is visible in traces.

pub mod queries;

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};
use tracing::Instrument;

/// How long a request waits for a free connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite: or postgres://, got {0:?}")]
    UnsupportedUrl(String),
    #[error("cannot open the database")]
    Connect(#[source] sqlx::Error),
    #[error("cannot create the directory for the SQLite file {0}")]
    Directory(String, #[source] std::io::Error),
    #[error("cannot apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// A pool of either kind. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection taken from the pool.
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// Runs `$body` with `$c` bound to the connection's inner `&mut` connection, whatever the
/// backend; `$body` must type-check for both.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite(pooled) => {
                let $c = &mut **pooled;
                $body
            }
            $crate::db::Conn::Postgres(pooled) => {
                let $c = &mut **pooled;
                $body
            }
        }
    };
}
pub(crate) use on_conn;

impl Db {
    /// Opens the database at `url` with at most `pool_size` connections and migrates it.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Db, DbError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(DbError::Connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            let parent = options
                .get_filename()
                .parent()
                .map(std::path::Path::to_path_buf);
            if let Some(parent) = parent.filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(&parent)
                    .map_err(|error| DbError::Directory(parent.display().to_string(), error))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(pool_size)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            sqlx::migrate!("./migrations/sqlite")
                .run(&pool)
                .await
                .map_err(DbError::Migrate)?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(DbError::Connect)?;
            let pool = PgPoolOptions::new()
                .max_connections(pool_size)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .map_err(DbError::Migrate)?;
            Db::Postgres(pool)
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        Ok(db)
    }

    /// `db.system` as the semantic conventions name it.
    pub fn system(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgresql",
        }
    }

    fn max_connections(&self) -> u32 {
        match self {
            Db::Sqlite(pool) => pool.options().get_max_connections(),
            Db::Postgres(pool) => pool.options().get_max_connections(),
        }
    }

    /// Takes a connection, inside a `db.pool.acquire` span that shows how long it waited.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let span = tracing::info_span!(
            "db.pool.acquire",
            otel.kind = "internal",
            db.system = self.system(),
            db.client.connection.pool.name = "shop",
            db.client.connection.pool.max = i64::from(self.max_connections()),
        );
        async {
            Ok(match self {
                Db::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
                Db::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
            })
        }
        .instrument(span)
        .await
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Conn {
    /// `db.system` of this connection.
    pub fn system(&self) -> &'static str {
        match self {
            Conn::Sqlite(_) => "sqlite",
            Conn::Postgres(_) => "postgresql",
        }
    }
}

/// The CLIENT span of one statement. `text` is the SQL with placeholders.
pub fn query_span(
    system: &'static str,
    operation: &'static str,
    collection: &'static str,
    text: &'static str,
) -> tracing::Span {
    tracing::info_span!(
        "db.query",
        otel.name = %format!("{operation} {collection}"),
        otel.kind = "client",
        db.system = system,
        db.system.name = system,
        db.operation.name = operation,
        db.collection.name = collection,
        db.query.text = text,
        otel.status_code = tracing::field::Empty,
    )
}
