//! Any text: parsing never panics; errors render; an accepted query prints to canonical
//! TraceQL that parses back to the same tree and prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match dojo_traceql::parse_syntax(text) {
        Ok(query) => {
            let printed = query.to_string();
            let again = dojo_traceql::parse_syntax(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?} does not parse: {}", e.one_line(&printed)));
            assert_eq!(again, query, "{text:?} printed as {printed:?} parses differently");
            assert_eq!(again.to_string(), printed, "unstable print of {text:?}");
            let _ = dojo_traceql::explain::tree(&query);
            if let Err(e) = dojo_traceql::parse(text) {
                let _ = e.render(text);
            }
        }
        Err(e) => {
            let _ = e.render(text);
            let _ = e.one_line(text);
        }
    }
});
