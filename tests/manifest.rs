//! What crates.io and docs.rs show: the manifest's links, and README and crate-doc links that
//! still work there (relative links resolve against crates.io, where the repository's other
//! files do not exist).

#[test]
fn manifest_names_repository_documentation_and_homepage() {
    assert_eq!(
        env!("CARGO_PKG_REPOSITORY"),
        "https://github.com/corepool/corepool"
    );
    assert_eq!(
        env!("CARGO_PKG_HOMEPAGE"),
        "https://github.com/corepool/corepool"
    );
    let manifest = include_str!("../Cargo.toml");
    assert!(
        manifest.contains("documentation = \"https://docs.rs/corepool\""),
        "Cargo.toml has no documentation link"
    );
}

/// Every `](target)` in `text` that is neither absolute nor an anchor on the same page.
fn relative_links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap_or_default().to_string())
        .filter(|t| !t.starts_with("https://") && !t.starts_with("http://") && !t.starts_with('#'))
        .collect()
}

#[test]
fn readme_and_crate_docs_link_only_absolute_addresses() {
    let readme = include_str!("../README.md");
    assert_eq!(relative_links(readme), Vec::<String>::new(), "README.md");
    let crate_docs: String = include_str!("../src/lib.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    // Intra-doc links (`[`Pool`]`) have no `](`; any markdown link must be absolute.
    assert_eq!(relative_links(&crate_docs), Vec::<String>::new(), "lib.rs");
    // docs.rs shows no repository files: the crate docs must not send readers to one by name.
    for file in ["ARCHITECTURE.md", "worker.rs", "sleep.rs", "shutdown.rs"] {
        for line in crate_docs.lines() {
            assert!(
                !line.contains(&format!("`{file}`")),
                "crate docs point at {file}: {line}"
            );
        }
    }
}
