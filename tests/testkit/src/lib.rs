//! Helpers shared by the integration tests of every crate: a fresh PostgreSQL database per
//! test ([`postgres`]), an OTLP receiver on port 0 that captures what a service exports, and
//! a reader of the Tempo API's trace bodies ([`tempo_json`]).
//!
//! Used as a dev-dependency only; nothing here ships in the `dojo` binary.

pub mod otlp;
pub mod postgres;
pub mod tempo_json;

/// A TCP port on 127.0.0.1 that nobody listens on right now, for a child process to bind.
/// (The port is free when this returns; a test that needs several holds them all at once, as
/// the e2e `LabPorts` does.)
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("binding a free port on 127.0.0.1")
}
