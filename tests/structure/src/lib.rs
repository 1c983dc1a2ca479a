//! The import graph of one crate's source files, and the circles in it.
//!
//! A crate reads best when its files form layers: a file uses the files below it and never
//! one that, directly or around a loop, uses it back. This module reads a crate the way
//! `rustc` finds its files (from `lib.rs` or `main.rs`, following `mod name;`), collects every
//! `use` and every `crate::`/`super::`/`self::` path outside `#[cfg(test)]` code, resolves each
//! to the file that holds the module it names, and reports the strongly connected groups of
//! files: each group of two or more is a circle to break.
//!
//! `mod name;` itself is not an import (a parent always declares its children); a parent that
//! `use`s or re-exports from a child is.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Why a crate could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{path}: could not be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: is not Rust that parses: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The files of one crate target and which file imports which.
#[derive(Debug, Default)]
pub struct ImportGraph {
    /// Every file, by index.
    files: Vec<PathBuf>,
    /// The file holding each module path (`[]` is the crate root).
    modules: HashMap<Vec<String>, usize>,
    /// `importer -> imported -> the names taken`.
    edges: BTreeMap<usize, BTreeMap<usize, BTreeSet<String>>>,
    /// What each module (file or inline) defines and brings in with `use`.
    scopes: HashMap<Vec<String>, Scope>,
}

/// The names one module defines, and the names its `use` declarations bring in (as absolute
/// paths), so a path through a re-export can be followed to where the item really lives.
#[derive(Debug, Default)]
struct Scope {
    defined: BTreeSet<String>,
    imported: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

/// One circle: the files in it and, for each import inside it, the names taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    pub files: Vec<PathBuf>,
    pub imports: Vec<(PathBuf, PathBuf, Vec<String>)>,
}

impl std::fmt::Display for Circle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
        writeln!(
            f,
            "circle of {} files: {}",
            self.files.len(),
            names.join(", ")
        )?;
        for (from, to, taken) in &self.imports {
            writeln!(
                f,
                "  {} -> {}: {}",
                from.display(),
                to.display(),
                taken.join(", ")
            )?;
        }
        Ok(())
    }
}

impl ImportGraph {
    /// Reads the crate target whose root file is `root` (a `lib.rs`, `main.rs` or
    /// `src/bin/*.rs`), following its `mod` declarations.
    pub fn read(root: &Path) -> Result<Self, GraphError> {
        let mut graph = ImportGraph::default();
        let mut parsed = Vec::new();
        graph.load(root, Vec::new(), true, &mut parsed)?;
        for (_, module_path, ast) in &parsed {
            let mut scopes = ScopeCollector {
                graph: &graph,
                module_path: module_path.clone(),
                found: Vec::new(),
            };
            scopes.read_items(&ast.items);
            for (path, scope) in scopes.found {
                let entry = graph.scopes.entry(path).or_default();
                entry.defined.extend(scope.defined);
                entry.imported.extend(scope.imported);
                entry.globs.extend(scope.globs);
            }
        }
        for (index, module_path, ast) in parsed {
            let mut collector = ImportCollector {
                graph: &graph,
                module_path,
                found: Vec::new(),
            };
            collector.visit_file(&ast);
            let found = collector.found;
            for (target, name) in found {
                if target != index {
                    graph
                        .edges
                        .entry(index)
                        .or_default()
                        .entry(target)
                        .or_default()
                        .insert(name);
                }
            }
        }
        Ok(graph)
    }

    /// The files read, relative to nothing (as found on disk).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// True when `from` imports something from `to`.
    pub fn imports(&self, from: &Path, to: &Path) -> bool {
        let index = |p: &Path| self.files.iter().position(|f| f == p);
        match (index(from), index(to)) {
            (Some(a), Some(b)) => self.edges.get(&a).is_some_and(|e| e.contains_key(&b)),
            _ => false,
        }
    }

    /// Every group of two or more files that import each other around a loop.
    pub fn circles(&self) -> Vec<Circle> {
        let groups = strongly_connected(self.files.len(), |node| {
            self.edges
                .get(&node)
                .map(|targets| targets.keys().copied().collect())
                .unwrap_or_default()
        });
        let mut circles: Vec<Circle> = groups
            .into_iter()
            .filter(|group| group.len() > 1)
            .map(|group| {
                let members: BTreeSet<usize> = group.iter().copied().collect();
                let mut imports = Vec::new();
                for &from in &members {
                    for (to, names) in self.edges.get(&from).into_iter().flatten() {
                        if members.contains(to) {
                            imports.push((
                                self.files[from].clone(),
                                self.files[*to].clone(),
                                names.iter().cloned().collect(),
                            ));
                        }
                    }
                }
                let mut files: Vec<PathBuf> =
                    members.iter().map(|&i| self.files[i].clone()).collect();
                files.sort();
                imports.sort();
                Circle { files, imports }
            })
            .collect();
        circles.sort_by(|a, b| a.files.cmp(&b.files));
        circles
    }

    /// Reads one module file and, depth first, the files of the modules it declares.
    fn load(
        &mut self,
        path: &Path,
        module_path: Vec<String>,
        owns_directory: bool,
        parsed: &mut Vec<(usize, Vec<String>, syn::File)>,
    ) -> Result<(), GraphError> {
        let text = std::fs::read_to_string(path).map_err(|source| GraphError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let ast = syn::parse_file(&text).map_err(|e| GraphError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let index = self.files.len();
        self.files.push(path.to_path_buf());
        self.modules.insert(module_path.clone(), index);

        // Children live beside `lib.rs`/`main.rs`/`mod.rs`, or in a folder named after the file.
        let directory = if owns_directory {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        } else {
            let stem = path.file_stem().unwrap_or_default();
            path.parent().unwrap_or(Path::new("")).join(stem)
        };
        let mut children = Vec::new();
        collect_module_files(&ast.items, &directory, &module_path, &mut children);
        parsed.push((index, module_path, ast));
        for (child_path, child_module, child_owns) in children {
            self.load(&child_path, child_module, child_owns, parsed)?;
        }
        Ok(())
    }

    /// The file that holds what `segments` (an absolute path) names: the deepest module named
    /// by a prefix of it, or, when that module only re-exports the next name, where the
    /// re-export leads.
    fn file_of(&self, segments: &[String]) -> usize {
        self.follow(segments, 0)
    }

    fn follow(&self, segments: &[String], depth: usize) -> usize {
        let n = (0..=segments.len())
            .rev()
            .find(|&n| self.modules.contains_key(&segments[..n]))
            .unwrap_or(0);
        let module = &segments[..n];
        let file = self.modules.get(module).copied().unwrap_or(0);
        let (Some(name), Some(scope)) = (segments.get(n), self.scopes.get(module)) else {
            return file;
        };
        if depth > 16 || scope.defined.contains(name) {
            return file;
        }
        if let Some(source) = scope.imported.get(name) {
            let mut next = source.clone();
            next.extend_from_slice(&segments[n + 1..]);
            return self.follow(&next, depth + 1);
        }
        for glob in &scope.globs {
            let defines = self
                .scopes
                .get(glob)
                .is_some_and(|s| s.defined.contains(name) || s.imported.contains_key(name));
            if defines {
                let mut next = glob.clone();
                next.extend_from_slice(&segments[n..]);
                return self.follow(&next, depth + 1);
            }
        }
        file
    }

    fn is_module(&self, segments: &[String]) -> bool {
        self.modules.contains_key(segments)
    }
}

/// Finds the files of `mod name;` declarations (skipping `#[cfg(test)]` ones), also inside
/// inline modules, which nest the folder as `rustc` does.
fn collect_module_files(
    items: &[syn::Item],
    directory: &Path,
    module_path: &[String],
    out: &mut Vec<(PathBuf, Vec<String>, bool)>,
) {
    for item in items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        if is_test_only(&module.attrs) {
            continue;
        }
        let name = module.ident.to_string();
        let mut child_path = module_path.to_vec();
        child_path.push(name.clone());
        match &module.content {
            Some((_, inner)) => {
                // An inline module: its items are in this file; its `mod` children in a
                // sub-folder.
                collect_module_files(inner, &directory.join(&name), &child_path, out);
            }
            None => {
                if let Some(explicit) = path_attribute(&module.attrs) {
                    out.push((directory.join(explicit), child_path, true));
                    continue;
                }
                let flat = directory.join(format!("{name}.rs"));
                let nested = directory.join(&name).join("mod.rs");
                if flat.exists() {
                    out.push((flat, child_path, false));
                } else {
                    out.push((nested, child_path, true));
                }
            }
        }
    }
}

fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident("path") {
            return None;
        }
        let syn::Meta::NameValue(value) = &attr.meta else {
            return None;
        };
        match &value.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// True for `#[cfg(test)]` (and `#[cfg(all(test, …))]`): code that only tests compile.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let Ok(list) = attr.meta.require_list() else {
            return false;
        };
        let tokens = list.tokens.to_string();
        tokens == "test" || tokens.starts_with("all (test") || tokens.starts_with("all(test")
    })
}

/// Walks one file's syntax, resolving every crate-internal path to the file it names.
struct ImportCollector<'g> {
    graph: &'g ImportGraph,
    /// The module being read (changes inside inline modules).
    module_path: Vec<String>,
    /// `(file index, name taken)`.
    found: Vec<(usize, String)>,
}

impl ImportCollector<'_> {
    /// Resolves a path written in the current module; ignores paths into other crates.
    fn resolve(&mut self, segments: &[String]) {
        let Some(absolute) = absolute_path(self.graph, &self.module_path, segments) else {
            return;
        };
        let target = self.graph.file_of(&absolute);
        let name = absolute
            .last()
            .cloned()
            .unwrap_or_else(|| "crate".to_string());
        self.found.push((target, name));
    }
}

/// `segments` written in `module_path`, as a path from the crate root; `None` for a path into
/// another crate (or one this reader cannot place).
fn absolute_path(
    graph: &ImportGraph,
    module_path: &[String],
    segments: &[String],
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let absolute: Vec<String> = match first.as_str() {
        "crate" => segments[1..].to_vec(),
        "self" => {
            let mut p = module_path.to_vec();
            p.extend_from_slice(&segments[1..]);
            p
        }
        "super" => {
            let mut p = module_path.to_vec();
            let mut rest = segments;
            while rest.first().is_some_and(|s| s == "super") {
                p.pop();
                rest = &rest[1..];
            }
            p.extend_from_slice(rest);
            p
        }
        _ => {
            // A path starting with a child module's name is relative to this module.
            let mut p = module_path.to_vec();
            p.push(first.clone());
            if !graph.is_module(&p) {
                return None;
            }
            p.extend_from_slice(&segments[1..]);
            p
        }
    };
    Some(absolute)
}

/// Collects each module's definitions and `use` imports (the first pass).
struct ScopeCollector<'g> {
    graph: &'g ImportGraph,
    module_path: Vec<String>,
    found: Vec<(Vec<String>, Scope)>,
}

impl ScopeCollector<'_> {
    fn read_items(&mut self, items: &[syn::Item]) {
        let mut scope = Scope::default();
        for item in items {
            let name = match item {
                syn::Item::Const(i) => Some(&i.ident),
                syn::Item::Enum(i) => Some(&i.ident),
                syn::Item::Fn(i) => Some(&i.sig.ident),
                syn::Item::Static(i) => Some(&i.ident),
                syn::Item::Struct(i) => Some(&i.ident),
                syn::Item::Trait(i) => Some(&i.ident),
                syn::Item::Type(i) => Some(&i.ident),
                syn::Item::Union(i) => Some(&i.ident),
                syn::Item::Macro(i) => i.ident.as_ref(),
                syn::Item::Mod(i) => {
                    if let Some((_, inner)) = &i.content
                        && !is_test_only(&i.attrs)
                    {
                        self.module_path.push(i.ident.to_string());
                        self.read_items(inner);
                        self.module_path.pop();
                    }
                    None
                }
                syn::Item::Use(u) => {
                    let mut named = Vec::new();
                    collect_use_names(&u.tree, &mut Vec::new(), &mut named);
                    for (local, path, glob) in named {
                        let Some(absolute) = absolute_path(self.graph, &self.module_path, &path)
                        else {
                            continue;
                        };
                        if glob {
                            scope.globs.push(absolute);
                        } else if let Some(local) = local {
                            scope.imported.insert(local, absolute);
                        }
                    }
                    None
                }
                _ => None,
            };
            if let Some(name) = name {
                scope.defined.insert(name.to_string());
            }
        }
        self.found.push((self.module_path.clone(), scope));
    }
}

/// Expands `use a::{b, c::{self, D}}` into the paths `[a, b]`, `[a, c]`, `[a, c, D]`, each
/// with the name it is known by locally (`None` for a glob) and whether it is a glob.
fn collect_use_names(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>, bool)>,
) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            collect_use_names(&path.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(name) => {
            let mut full = prefix.clone();
            let local = if name.ident == "self" {
                prefix.last().cloned()
            } else {
                full.push(name.ident.to_string());
                Some(name.ident.to_string())
            };
            out.push((local, full, false));
        }
        syn::UseTree::Rename(rename) => {
            let mut full = prefix.clone();
            if rename.ident != "self" {
                full.push(rename.ident.to_string());
            }
            out.push((Some(rename.rename.to_string()), full, false));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix.clone(), true)),
        syn::UseTree::Group(group) => {
            for item in &group.items {
                collect_use_names(item, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for ImportCollector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            _ => &[],
        };
        if is_test_only(attrs) {
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        // Only inline modules have items here; file modules are read on their own.
        if let Some((_, items)) = &module.content {
            self.module_path.push(module.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.module_path.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut named = Vec::new();
        collect_use_names(&item.tree, &mut Vec::new(), &mut named);
        for (_, path, _) in named {
            self.resolve(&path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.resolve(&segments);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Macro bodies are tokens; read `crate::a::b`-shaped runs out of them.
        let tokens: Vec<proc_macro2::TokenTree> = mac.tokens.clone().into_iter().collect();
        self.paths_in_tokens(&tokens);
        syn::visit::visit_macro(self, mac);
    }
}

impl ImportCollector<'_> {
    fn paths_in_tokens(&mut self, tokens: &[proc_macro2::TokenTree]) {
        use proc_macro2::TokenTree;
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => {
                    let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                    self.paths_in_tokens(&inner);
                    i += 1;
                }
                TokenTree::Ident(ident) => {
                    let mut segments = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                        (tokens.get(j), tokens.get(j + 1))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        let Some(TokenTree::Ident(next)) = tokens.get(j + 2) else {
                            break;
                        };
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.resolve(&segments);
                    }
                    i = j;
                }
                _ => i += 1,
            }
        }
    }
}

/// Tarjan's algorithm: the strongly connected components of a graph of `n` nodes.
fn strongly_connected(n: usize, successors: impl Fn(usize) -> Vec<usize>) -> Vec<Vec<usize>> {
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        groups: Vec<Vec<usize>>,
    }
    fn visit(node: usize, state: &mut State, successors: &dyn Fn(usize) -> Vec<usize>) {
        state.index[node] = Some(state.next);
        state.low[node] = state.next;
        state.next += 1;
        state.stack.push(node);
        state.on_stack[node] = true;
        for next in successors(node) {
            match state.index[next] {
                None => {
                    visit(next, state, successors);
                    state.low[node] = state.low[node].min(state.low[next]);
                }
                Some(index) if state.on_stack[next] => {
                    state.low[node] = state.low[node].min(index);
                }
                Some(_) => {}
            }
        }
        if Some(state.low[node]) == state.index[node] {
            let mut group = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack[member] = false;
                group.push(member);
                if member == node {
                    break;
                }
            }
            state.groups.push(group);
        }
    }
    let mut state = State {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        groups: Vec::new(),
    };
    for node in 0..n {
        if state.index[node].is_none() {
            visit(node, &mut state, &successors);
        }
    }
    state.groups
}

/// The target roots of the crate in `crate_dir`: `src/lib.rs`, `src/main.rs`, `src/bin/*.rs`.
pub fn target_roots(crate_dir: &Path) -> Vec<PathBuf> {
    let src = crate_dir.join("src");
    let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .filter(|p| p.exists())
        .collect();
    if let Ok(entries) = std::fs::read_dir(src.join("bin")) {
        let mut bins: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        bins.sort();
        roots.extend(bins);
    }
    roots
}

/// The member folders listed in a workspace's `Cargo.toml` (`members = [ "…", … ]`).
pub fn workspace_members(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("members") else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) else {
        return Vec::new();
    };
    rest[open + 1..close]
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split(','))
        .map(|entry| entry.trim().trim_matches('"').to_string())
        .filter(|entry| !entry.is_empty())
        .collect()
}
