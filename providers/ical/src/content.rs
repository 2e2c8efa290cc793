//! RFC 5545 content lines (§3.1): unfolding, and `NAME;PARAM=VALUE,VALUE:value`.
//!
//! Every delimiter is ASCII, so the byte offsets this module slices at are always
//! character boundaries: no input can make it panic.

/// One logical line, unfolded, with the number of the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unfolded {
    /// 1-based number of its first physical line.
    pub number: usize,
    /// The text, continuation lines appended without their leading space or tab.
    pub text: String,
}

/// Unfolds `text`: a line that starts with a space or a tab continues the one before.
/// Line ends may be CRLF or LF; blank lines are dropped.
pub(crate) fn unfold(text: &str) -> Vec<Unfolded> {
    let mut lines: Vec<Unfolded> = Vec::new();
    for (index, physical) in text.split('\n').enumerate() {
        let physical = physical.strip_suffix('\r').unwrap_or(physical);
        let continued = physical.strip_prefix(' ').or_else(|| physical.strip_prefix('\t'));
        match (continued, lines.last_mut()) {
            (Some(rest), Some(last)) => last.text.push_str(rest),
            _ if physical.trim().is_empty() => {}
            _ => lines.push(Unfolded {
                number: index + 1,
                text: physical.to_owned(),
            }),
        }
    }
    lines
}

/// A parsed content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    /// The property's name, uppercased (names are case-insensitive).
    pub name: String,
    /// The parameters in order, names uppercased, each with its values (unquoted).
    pub params: Vec<(String, Vec<String>)>,
    /// The raw value, still escaped.
    pub value: String,
    /// The line it starts on.
    pub line: usize,
}

impl Property {
    /// The first value of parameter `name` (uppercase), if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }
}

/// Parses one unfolded line; why it is not a content line otherwise.
pub(crate) fn parse_line(line: &Unfolded) -> Result<Property, String> {
    let text = line.text.as_str();
    let bytes = text.as_bytes();
    let name_end = bytes
        .iter()
        .position(|&b| b == b';' || b == b':')
        .ok_or_else(|| "no ':' separates the property name from its value".to_owned())?;
    let name = &text[..name_end];
    if !is_name(name) {
        return Err(format!("{} is not a property name", quote(name)));
    }
    let mut params = Vec::new();
    let mut position = name_end;
    while bytes.get(position) == Some(&b';') {
        let start = position + 1;
        let equals = bytes[start..]
            .iter()
            .position(|&b| b == b'=')
            .map(|offset| start + offset)
            .ok_or_else(|| format!("parameter of {} has no '='", quote(name)))?;
        let param_name = &text[start..equals];
        if !is_name(param_name) {
            return Err(format!("{} is not a parameter name", quote(param_name)));
        }
        let mut values = Vec::new();
        position = equals;
        loop {
            // `position` is on the '=' or ',' before a value.
            let value_start = position + 1;
            let (value, next) = if bytes.get(value_start) == Some(&b'"') {
                let close = bytes[value_start + 1..]
                    .iter()
                    .position(|&b| b == b'"')
                    .map(|offset| value_start + 1 + offset)
                    .ok_or_else(|| format!("parameter {} has an unclosed quote", quote(param_name)))?;
                (caret_decode(&text[value_start + 1..close]), close + 1)
            } else {
                let end = bytes[value_start..]
                    .iter()
                    .position(|&b| b == b',' || b == b';' || b == b':' || b == b'"')
                    .map_or(bytes.len(), |offset| value_start + offset);
                (caret_decode(&text[value_start..end]), end)
            };
            values.push(value);
            position = next;
            match bytes.get(position) {
                Some(b',') => continue,
                Some(b';' | b':') => break,
                _ => {
                    return Err(format!(
                        "parameter {} is not followed by ';' or ':'",
                        quote(param_name)
                    ));
                }
            }
        }
        params.push((param_name.to_ascii_uppercase(), values));
    }
    if bytes.get(position) != Some(&b':') {
        return Err("no ':' separates the property name from its value".to_owned());
    }
    Ok(Property {
        name: name.to_ascii_uppercase(),
        params,
        value: text[position + 1..].to_owned(),
        line: line.number,
    })
}

/// `iana-token` or `x-name`: letters, digits and dashes.
fn is_name(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// RFC 6868 parameter value encoding: `^n` newline, `^'` double quote, `^^` caret.
fn caret_decode(text: &str) -> String {
    if !text.contains('^') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('^', Some('n' | 'N')) => {
                out.push('\n');
                chars.next();
            }
            ('^', Some('\'')) => {
                out.push('"');
                chars.next();
            }
            ('^', Some('^')) => {
                out.push('^');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Unescapes a TEXT value (§3.3.11): `\,` `\;` `\\` and `\n`/`\N`. Any other
/// backslash is kept as it is.
pub(crate) fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some(',') => out.push(','),
            Some(';') => out.push(';'),
            Some('\\') => out.push('\\'),
            Some('n' | 'N') => out.push('\n'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// How much of a value a message quotes.
const MAX_QUOTED_CHARS: usize = 80;

/// `"value"`, cut to [`MAX_QUOTED_CHARS`] characters, for messages.
pub(crate) fn quote(value: &str) -> String {
    format!("{:?}", shorten(value))
}

/// `value`, cut to [`MAX_QUOTED_CHARS`] characters with an ellipsis.
pub(crate) fn shorten(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Unfolded {
        Unfolded {
            number: 7,
            text: text.into(),
        }
    }

    fn parse(text: &str) -> Property {
        parse_line(&line(text)).unwrap_or_else(|reason| panic!("{text}: {reason}"))
    }

    #[test]
    fn folded_lines_are_joined_with_crlf_or_lf_and_space_or_tab() {
        let lines = unfold("BEGIN:VEVENT\r\nSUMMARY:Con\r\n cierto\n\t final\r\n\r\nEND:VEVENT");
        let texts: Vec<_> = lines.iter().map(|l| (l.number, l.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (1, "BEGIN:VEVENT"),
                (2, "SUMMARY:Concierto final"),
                (6, "END:VEVENT")
            ]
        );
    }

    #[test]
    fn a_property_with_parameters_is_split_into_its_parts() {
        let property = parse("dtstart;TZID=Europe/Madrid;x-a=1,\"b:c;d\":20261201T200000");
        assert_eq!(property.name, "DTSTART");
        assert_eq!(property.param("TZID"), Some("Europe/Madrid"));
        assert_eq!(
            property.params[1],
            ("X-A".to_owned(), vec!["1".to_owned(), "b:c;d".to_owned()])
        );
        assert_eq!(property.value, "20261201T200000");
        assert_eq!(property.line, 7);
    }

    #[test]
    fn the_value_may_contain_colons() {
        assert_eq!(parse("URL:https://x.example/a").value, "https://x.example/a");
        assert_eq!(parse("DESCRIPTION:").value, "");
    }

    #[test]
    fn broken_lines_say_why() {
        for text in [
            "no colon here",
            ":value",
            "A B:c",
            "X;P:v",
            "X;P=\"open:v",
            "X;P=a\"b:v",
        ] {
            assert!(parse_line(&line(text)).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn text_values_are_unescaped() {
        assert_eq!(
            unescape_text(r"Rock\, pop\; jazz\\blues\nnight \x"),
            "Rock, pop; jazz\\blues\nnight \\x"
        );
        assert_eq!(unescape_text("trailing\\"), "trailing\\");
    }

    #[test]
    fn caret_encoded_parameters_are_decoded() {
        assert_eq!(parse("X;CN=a^'b^'^nc^^:v").param("CN"), Some("a\"b\"\nc^"));
    }

    #[test]
    fn long_values_are_shortened_on_a_character_boundary() {
        let long = "é".repeat(100);
        assert_eq!(shorten(&long).chars().count(), MAX_QUOTED_CHARS + 1);
    }
}
