//! Text bound for a terminal. Server error messages, replica errors and
//! host names come from outside: a malicious or broken server could send
//! escape sequences that rewrite the operator's screen. Control characters
//! are shown escaped (`\u{1b}`), line breaks kept.

use std::borrow::Cow;

pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(super::safe("plain\nlines"), "plain\nlines");
        assert_eq!(
            super::safe("Access denied \x1b[2J\x1b]0;pwned\x07 for"),
            "Access denied \\u{1b}[2J\\u{1b}]0;pwned\\u{7} for"
        );
        assert_eq!(super::safe("tab\there\r"), "tab\\there\\r");
    }
}
