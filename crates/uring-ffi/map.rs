//! Reading a linker version script: shared by build.rs (which binds each name to its
//! version) and the symbol test (which checks the built library against it).

/// The `(symbol, version node)` pairs of a linker version script: the names listed
/// under `global:` (or before any `global:`/`local:`) inside each `NODE { … }`.
pub fn parse_map(text: &str) -> Vec<(String, String)> {
    let mut clean = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        clean.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("unterminated comment") + start + 2;
        rest = &rest[end..];
    }
    clean.push_str(rest);

    let tokens: Vec<&str> = clean
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|t| !t.is_empty())
        .collect();
    let mut pairs = Vec::new();
    let mut node: Option<&str> = None;
    let mut local = false;
    for (i, &token) in tokens.iter().enumerate() {
        if tokens.get(i + 1) == Some(&"{") {
            node = Some(token);
            local = false;
            continue;
        }
        match token {
            "{" | "global:" => local = false,
            "local:" => local = true,
            // `} PARENT;` closes the node; the parent's name is not a symbol.
            "}" => node = None,
            name => {
                if let Some(n) = node.filter(|_| !local && !name.contains('*')) {
                    pairs.push((name.to_owned(), n.to_owned()));
                }
            }
        }
    }
    pairs
}
