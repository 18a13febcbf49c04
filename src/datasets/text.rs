//! Small text parsers the data sets need: CSV (RFC 4180), Python string literals and list reprs,
//! HTML to text.

use crate::core::{Error, Result};

/// Parses CSV (comma-separated, `"`-quoted, `""` for a quote, newlines allowed inside quotes).
/// Returns the records with the 1-based line each starts on.
pub fn parse_csv(text: &str, what: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    let mut at_record_start = true;
    while let Some(c) = chars.next() {
        if at_record_start {
            start_line = line;
            at_record_start = false;
        }
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push((start_line, std::mem::take(&mut record)));
                line += 1;
                at_record_start = true;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(Error::InvalidInput(format!(
            "{what}: line {start_line}: unterminated quoted field"
        )));
    }
    if !at_record_start {
        record.push(field);
        records.push((start_line, record));
    }
    Ok(records)
}

/// Reads one Python string literal (`'…'` or `"…"`, with backslash escapes) at the start of `s`;
/// returns the value and the rest of `s`.
fn python_literal(s: &str) -> Option<(String, &str)> {
    let mut it = s.char_indices();
    let (_, quote) = it.next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = it.next() {
        if c == quote {
            return Some((out, &s[i + c.len_utf8()..]));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = it.next()?;
        let hex = |it: &mut std::str::CharIndices, n: usize| -> Option<char> {
            let h: String = (0..n).filter_map(|_| it.next().map(|(_, c)| c)).collect();
            char::from_u32(u32::from_str_radix(&h, 16).ok()?)
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            '\\' | '\'' | '"' => out.push(e),
            '\n' => {}
            'x' => out.push(hex(&mut it, 2)?),
            'u' => out.push(hex(&mut it, 4)?),
            'U' => out.push(hex(&mut it, 8)?),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    None
}

/// Parses a Python/numpy list repr of strings: `['a', "b"]` (commas) or numpy's `['a'\n 'b']`
/// (whitespace only). Two literals side by side are two elements, never glued together.
pub fn parse_str_list(s: &str) -> Option<Vec<String>> {
    let mut rest = s.trim().strip_prefix('[')?;
    let mut items = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if let Some(r) = rest.strip_prefix(']') {
            return r.trim().is_empty().then_some(items);
        }
        let (item, r) = python_literal(rest)?;
        items.push(item);
        rest = r;
    }
}

/// Decodes the HTML entities of `s` (`&amp;`, `&#39;`, `&#x27;`, `&nbsp;`, …).
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // A byte search: `;` is ASCII, so its position is a character boundary even when
        // multi-byte text follows the `&` (slicing the string at 12 bytes would not be).
        let end = rest.as_bytes()[..rest.len().min(12)]
            .iter()
            .position(|&b| b == b';');
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "ndash" => Some('–'),
                "mdash" => Some('—'),
                "hellip" => Some('…'),
                "rsquo" => Some('’'),
                "lsquo" => Some('‘'),
                "ldquo" => Some('“'),
                "rdquo" => Some('”'),
                n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML to plain text: tags removed (block tags become spaces), entities decoded, whitespace
/// collapsed to single spaces, ends trimmed.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        match rest[i..].find('>') {
            Some(j) => {
                text.push(' ');
                rest = &rest[i + j + 1..];
            }
            None => {
                text.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    text.push_str(rest);
    decode_entities(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_newlines() {
        let r = parse_csv("a,b,c\n1,\"x, \"\"y\"\"\nz\",3\r\n4,,6", "t").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[1],
            (2, vec!["1".to_string(), "x, \"y\"\nz".into(), "3".into()])
        );
        assert_eq!(r[2], (4, vec!["4".to_string(), "".into(), "6".into()]));
        assert!(parse_csv("a,\"b\n", "t").is_err());
    }

    #[test]
    fn numpy_list_repr() {
        let v =
            parse_str_list("['First one.'\n 'Second, with comma.' \"It's\" 'tab\\tand \\'q\\'']")
                .unwrap();
        assert_eq!(
            v,
            vec!["First one.", "Second, with comma.", "It's", "tab\tand 'q'"]
        );
        assert_eq!(
            parse_str_list("['visas', 'usa']").unwrap(),
            vec!["visas", "usa"]
        );
        assert_eq!(parse_str_list("[]").unwrap(), Vec::<String>::new());
        assert!(parse_str_list("['unterminated").is_none());
        assert!(parse_str_list("no list").is_none());
    }

    #[test]
    fn html() {
        assert_eq!(
            html_to_text("<p>I&#39;m <b>here</b> &amp; there&nbsp;&lt;3</p>\n<p>Next&#x21;</p>"),
            "I'm here & there <3 Next!"
        );
        assert_eq!(decode_entities("a & b &unknown; c"), "a & b &unknown; c");
    }
}
