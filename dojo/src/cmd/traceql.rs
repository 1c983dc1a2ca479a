//! `dojo traceql check` and `dojo traceql explain`: the TraceQL engine from a terminal.
//!
//! `check` is for scripts and graders: one query per input line, exactly one output line per
//! query (`ok`, or `error: ` and the whole message on that line), exit status 0 either way.
//! `explain` is for people: the canonical form and the parsed tree, or the error with a caret.

use anyhow::Context;
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TraceqlArgs {
    #[command(subcommand)]
    command: TraceqlCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TraceqlCommand {
    /// Read queries from standard input, one per line, and print `ok` or `error: …` for each.
    Check,
    /// Print how a query parses (its canonical form and tree), or the error with a caret.
    Explain {
        /// The TraceQL query, e.g. '{ resource.service.name = "api" && status = error }'.
        query: String,
    },
}

pub fn run(args: TraceqlArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.command {
        TraceqlCommand::Check => {
            let stdin = std::io::stdin();
            check(stdin.lock(), &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        TraceqlCommand::Explain { query } => {
            let (text, ok) = explain(&query);
            out.write_all(text.as_bytes())
                .context("writing to standard output")?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// One output line per input line.
pub fn check(input: impl BufRead, out: &mut impl Write) -> anyhow::Result<()> {
    for line in input.split(b'\n') {
        let line = line.context("reading standard input")?;
        let query = String::from_utf8_lossy(&line);
        let query = query.strip_suffix('\r').unwrap_or(&query);
        let written = match dojo_traceql::parse(query) {
            Ok(_) => writeln!(out, "ok"),
            Err(e) => writeln!(out, "error: {}", e.one_line(query)),
        };
        written.context("writing to standard output")?;
        out.flush().context("writing to standard output")?;
    }
    Ok(())
}

/// The explanation of one query, and whether it is valid.
pub fn explain(query: &str) -> (String, bool) {
    match dojo_traceql::parse(query) {
        Ok(q) => {
            let mut text = format!("canonical: {q}\n\n{}", dojo_traceql::explain::tree(&q));
            for w in q.warnings() {
                text.push('\n');
                text.push_str(&w.render(query));
                text.push('\n');
            }
            (text, true)
        }
        Err(e) => (format!("{}\n", e.render(query)), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_prints_one_line_per_query_and_never_fails() {
        let input = "{ status = error }\n{ .a == 1 }\n\n{} | rate()\r\n";
        let mut out = Vec::new();
        check(input.as_bytes(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "ok");
        assert!(
            lines[1]
                .starts_with("error: parse error at line 1, col 6: syntax error: unexpected =="),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("error: parse error"), "{}", lines[2]);
        assert_eq!(lines[3], "ok");
    }

    #[test]
    fn explain_shows_the_tree_or_the_caret() {
        let (text, ok) = explain("{ duration > 1s }");
        assert!(ok);
        assert!(
            text.starts_with("canonical: { duration > 1s }\n\nspanset filter"),
            "{text}"
        );
        let (text, ok) = explain("{ name = 'x' }");
        assert!(!ok);
        assert!(
            text.contains("\n  { name = 'x' }\n           ^\nhint:"),
            "{text}"
        );
    }
}
