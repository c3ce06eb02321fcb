//! Subjects as nats-server reads them: dot-separated tokens, `*` one token, `>` the rest.

/// Whether `subject` is valid for a subscription (wildcards allowed as whole tokens).
pub(crate) fn valid_filter(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    !subject.is_empty()
        && tokens.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && !t.contains([' ', '\t', '\r', '\n', '\x0c'])
                && (*t != ">" || i == tokens.len() - 1)
        })
}

/// Whether `filter` matches the literal `subject`.
pub(crate) fn matches(filter: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in filter.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (t, Some(s)) if t == s => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::{matches, valid_filter};

    #[test]
    fn wildcards_match_as_the_server_does() {
        assert!(matches("a.*.c", "a.b.c"));
        assert!(!matches("a.*.c", "a.b.d"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(matches("a", "a"));
        assert!(!matches("a", "a.b"));
        assert!(!matches("a.b", "a"));
        assert!(matches("a*", "a*"), "a wildcard only as a whole token");
        assert!(
            valid_filter("a.*.>") && !valid_filter("a.>.b") && !valid_filter("a..b") && !valid_filter("")
        );
    }
}
