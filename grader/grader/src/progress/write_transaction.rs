//! Opening a transaction that will write, the same way on both databases.
//!
//! SQLite's default (deferred) transaction takes the write lock only at its first write; when
//! it has read first and another connection commits in between, that write fails at once with
//! "database is locked" instead of waiting, since waiting could deadlock. Several gradings at a
//! time (a class, a learner's quick resubmits) hit this. `BEGIN IMMEDIATE` takes the write lock
//! at the start, where the busy timeout makes a second writer wait its turn. PostgreSQL's row
//! locks need nothing of the kind.

use std::future::Future;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Postgres, Sqlite, Transaction};

/// A pool that can open a transaction meant to write.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}
