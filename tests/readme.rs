//! The README and the pages in docs/ must stay true to the repository: the files they quote
//! are quoted as they are, and every relative link leads to a file that exists.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// README.md, DEVELOPERS.md and every page in docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![
        Path::new(ROOT).join("README.md"),
        Path::new(ROOT).join("DEVELOPERS.md"),
    ];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).expect("docs/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages
}

/// A block announced by `<!-- quoted from PATH -->` on the line before its opening fence must
/// be that file, whole.
#[test]
fn quoted_files_are_quoted_as_they_are() {
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            let Some(path) = line
                .strip_prefix("<!-- quoted from ")
                .and_then(|rest| rest.strip_suffix(" -->"))
            else {
                continue;
            };
            assert!(
                lines[at + 1].starts_with("```"),
                "{}: no code block after the quote of {path}",
                page.display()
            );
            let end = lines[at + 2..]
                .iter()
                .position(|l| *l == "```")
                .unwrap_or_else(|| panic!("{}: unclosed block", page.display()));
            let quoted = lines[at + 2..at + 2 + end].join("\n") + "\n";
            let file = std::fs::read_to_string(Path::new(ROOT).join(path))
                .unwrap_or_else(|e| panic!("{}: {path}: {e}", page.display()));
            assert_eq!(
                quoted,
                file,
                "{}: the quote of {path} differs",
                page.display()
            );
        }
    }
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    for dockerfile in ["Dockerfile.single", "Dockerfile.multi"] {
        assert!(
            readme.contains(&format!("<!-- quoted from {dockerfile} -->")),
            "the README shows {dockerfile}, as the tutorial does"
        );
    }
}

#[test]
fn relative_links_lead_to_files_that_exist() {
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for (at, _) in text.match_indices("](") {
            let rest = &text[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap();
            assert!(
                dir.join(file).exists(),
                "{}: the link to {target} leads nowhere",
                page.display()
            );
        }
    }
}
