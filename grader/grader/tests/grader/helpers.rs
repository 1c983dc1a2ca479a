//! Shared test set-up: databases to run the progress tests on, temporary folders.

use std::path::PathBuf;

/// A folder under the system temp dir that is removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "dojo-grader-{tag}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The databases a progress test runs on: a fresh SQLite file always, and a fresh PostgreSQL
/// database when `DOJO_TEST_POSTGRES_URL` is set (required under CI).
pub async fn databases(tag: &str) -> (TempDir, Vec<(&'static str, String)>) {
    let dir = TempDir::new(tag);
    let mut out = vec![(
        "sqlite",
        format!("sqlite:{}", dir.0.join("progress.db").display()),
    )];
    if let Some(db) = dojo_testkit::postgres::fresh_database()
        .await
        .expect("the test PostgreSQL server accepts a new database")
    {
        out.push(("postgresql", db.url));
    }
    (dir, out)
}
