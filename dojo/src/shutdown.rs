//! How every long-running `dojo` command learns it should stop: Ctrl-C, SIGTERM, or (for a
//! child of `dojo up`) its parent going away. One place, so every subcommand stops the same way.

use dojo_defaults::env;

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let parent_gone = parent_gone();
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
        _ = parent_gone => {
            tracing::warn!("dojo up is gone (standard input closed); stopping");
        }
    }
}

/// Resolves when standard input reaches its end, for a child of `dojo up` (which sets
/// `DOJO_STOP_WITH_PARENT`); never otherwise. A plain thread does the blocking read, so it
/// does not hold up the runtime's shutdown when the process stops for another reason.
async fn parent_gone() {
    if std::env::var_os(env::STOP_WITH_PARENT).is_none() {
        return std::future::pending().await;
    }
    let (gone, notice) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buffer = [0u8; 256];
        while matches!(stdin.read(&mut buffer), Ok(n) if n > 0) {}
        let _ = gone.send(());
    });
    let _ = notice.await;
}
