//! The README shows the two Dockerfiles as the tutorial does; they must be the real ones.

#[test]
fn the_readme_shows_the_dockerfiles_as_they_are() {
    let readme = include_str!("../README.md");
    for (name, text) in [
        ("Dockerfile.single", include_str!("../Dockerfile.single")),
        ("Dockerfile.multi", include_str!("../Dockerfile.multi")),
    ] {
        assert!(
            readme.contains(&format!("```dockerfile\n{text}```")),
            "README.md's copy of {name} differs from the file"
        );
    }
}
