//! No file of a workspace crate imports a file that, directly or around a loop, imports it
//! back. A circle means two files are really one idea split in two, or that something both
//! need belongs in a file of its own below them; either way the reader cannot read one without
//! the other. When this test fails it prints each circle and the names that tie it: move the
//! shared names into their own file (or merge the files) until it passes.

use std::path::{Path, PathBuf};

use dojo_structure_tests::{ImportGraph, target_roots, workspace_members};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/structure sits two levels below the workspace root")
        .to_path_buf()
}

#[test]
fn no_crate_of_the_workspace_has_an_import_circle() {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("workspace Cargo.toml");
    let members = workspace_members(&manifest);
    assert!(
        members.len() >= 10,
        "expected the workspace's member list, found {members:?}"
    );
    let mut report = String::new();
    let mut files_read = 0;
    for member in &members {
        for target in target_roots(&root.join(member)) {
            let graph = ImportGraph::read(&target).unwrap_or_else(|e| panic!("{e}"));
            files_read += graph.files().len();
            for circle in graph.circles() {
                let shown = circle
                    .to_string()
                    .replace(&format!("{}/", root.display()), "");
                report.push_str(&shown);
            }
        }
    }
    assert!(files_read > 100, "only {files_read} files were read");
    assert!(
        report.is_empty(),
        "import circles inside crates (move what both sides need into a file of its own):\n{report}"
    );
}

/// A small crate on disk, for checking the reader itself.
struct Fixture(PathBuf);

impl Fixture {
    fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("dojo-structure-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let full = dir.join("src").join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        Fixture(dir)
    }

    fn graph(&self) -> ImportGraph {
        ImportGraph::read(&self.0.join("src/lib.rs")).unwrap()
    }

    fn file(&self, path: &str) -> PathBuf {
        self.0.join("src").join(path)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn two_files_that_use_each_other_are_a_circle() {
    let fixture = Fixture::new(
        "pair",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::Beta;\npub struct Alpha;\n"),
            (
                "b.rs",
                "pub struct Beta;\nfn f() { let _ = super::a::Alpha; }\n",
            ),
        ],
    );
    let circles = fixture.graph().circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert_eq!(
        circles[0].files,
        vec![fixture.file("a.rs"), fixture.file("b.rs")]
    );
    let text = circles[0].to_string();
    assert!(text.contains("Beta") && text.contains("Alpha"), "{text}");
}

#[test]
fn a_loop_through_three_files_and_a_folder_module_is_found() {
    let fixture = Fixture::new(
        "three",
        &[
            ("lib.rs", "pub mod text;\nmod content;\n"),
            (
                "text/mod.rs",
                "mod highlight;\npub use highlight::expand;\npub fn escape() {}\n",
            ),
            (
                "text/highlight.rs",
                "pub fn expand() { crate::content::note(); }\n",
            ),
            ("content.rs", "pub fn note() { crate::text::escape(); }\n"),
        ],
    );
    let circles = fixture.graph().circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert_eq!(circles[0].files.len(), 3, "{}", circles[0]);
}

#[test]
fn layers_declarations_and_test_code_are_not_circles() {
    let fixture = Fixture::new(
        "layers",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\npub use a::Alpha;\n"),
            ("a.rs", "use crate::b::Beta;\npub struct Alpha(Beta);\n"),
            (
                "b.rs",
                "pub struct Beta;\n#[cfg(test)]\nmod tests {\n    use crate::a::Alpha;\n}\n",
            ),
        ],
    );
    let graph = fixture.graph();
    assert!(graph.circles().is_empty(), "{:?}", graph.circles());
    assert!(graph.imports(&fixture.file("a.rs"), &fixture.file("b.rs")));
    assert!(graph.imports(&fixture.file("lib.rs"), &fixture.file("a.rs")));
    assert!(!graph.imports(&fixture.file("b.rs"), &fixture.file("a.rs")));
}

#[test]
fn paths_inside_macros_count() {
    let fixture = Fixture::new(
        "macros",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::B;\npub const A: u8 = 1;\n"),
            (
                "b.rs",
                "pub struct B;\nfn f() { println!(\"{}\", crate::a::A); }\n",
            ),
        ],
    );
    assert_eq!(fixture.graph().circles().len(), 1);
}
