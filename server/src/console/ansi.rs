//! ANSI SGR colours to HTML: each log line becomes escaped text in `<span class="ansi-…">` runs. Styles are
//! reset at every line so a line's rendering depends on that line alone (line anchors stay stable when pages
//! load out of order). Other escape sequences are dropped.

use super::html::esc;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Style {
    fg: Option<u8>,
    bg: Option<u8>,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

impl Style {
    fn classes(&self) -> String {
        let mut classes = Vec::new();
        if let Some(fg) = self.fg {
            classes.push(format!("ansi-fg{fg}"));
        }
        if let Some(bg) = self.bg {
            classes.push(format!("ansi-bg{bg}"));
        }
        for (on, name) in [
            (self.bold, "ansi-bold"),
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if on {
                classes.push(name.to_owned());
            }
        }
        classes.join(" ")
    }

    fn apply(&mut self, params: &str) {
        let codes: Vec<u16> = if params.is_empty() {
            vec![0]
        } else {
            params.split(';').map(|p| p.parse().unwrap_or(0)).collect()
        };
        let mut i = 0;
        while i < codes.len() {
            match codes[i] {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                c @ 30..=37 => self.fg = u8::try_from(c - 30).ok(),
                c @ 90..=97 => self.fg = u8::try_from(c - 90 + 8).ok(),
                39 => self.fg = None,
                c @ 40..=47 => self.bg = u8::try_from(c - 40).ok(),
                c @ 100..=107 => self.bg = u8::try_from(c - 100 + 8).ok(),
                49 => self.bg = None,
                // 256-colour and true-colour forms: keep the basic 16, skip the rest.
                38 | 48 => {
                    let target = codes[i];
                    match codes.get(i + 1) {
                        Some(5) => {
                            let colour = codes.get(i + 2).copied().and_then(|c| u8::try_from(c).ok());
                            let basic = colour.filter(|c| *c < 16);
                            if target == 38 {
                                self.fg = basic;
                            } else {
                                self.bg = basic;
                            }
                            i += 2;
                        }
                        Some(2) => i += 4,
                        _ => {}
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// Renders one log line (without its newline) as HTML.
pub fn line_to_html(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut style = Style::default();
    let mut text = String::new();
    let mut chars = line.chars().peekable();
    let flush = |out: &mut String, text: &mut String, style: &Style| {
        if text.is_empty() {
            return;
        }
        let classes = style.classes();
        if classes.is_empty() {
            out.push_str(&esc(text));
        } else {
            out.push_str(&format!("<span class=\"{classes}\">{}</span>", esc(text)));
        }
        text.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    let mut params = String::new();
                    let mut end = None;
                    for p in chars.by_ref() {
                        if p.is_ascii_digit() || p == ';' || p == '?' {
                            params.push(p);
                        } else {
                            end = Some(p);
                            break;
                        }
                    }
                    if end == Some('m') {
                        flush(&mut out, &mut text, &style);
                        style.apply(&params);
                    }
                }
            }
            '\r' => {}
            c if c.is_control() && c != '\t' => {}
            c => text.push(c),
        }
    }
    flush(&mut out, &mut text, &style);
    out
}

/// Renders lines numbered from `first` as `<div class="ln" id="L12"><a href="#L12">12</a><span>…</span></div>`.
pub fn lines_to_html(text: &str, first: u64) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = first + i as u64;
        out.push_str(&format!(
            "<div class=\"ln\" id=\"L{n}\"><a href=\"#L{n}\" aria-label=\"line {n}\">{n}</a><code>{}</code></div>",
            line_to_html(line)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_classed_spans_and_markup_stays_text() {
        let cases = [
            ("plain", "plain"),
            (
                "\u{1b}[31mred\u{1b}[0m ok",
                "<span class=\"ansi-fg1\">red</span> ok",
            ),
            (
                "\u{1b}[1;92mbold green\u{1b}[39m still bold",
                "<span class=\"ansi-fg10 ansi-bold\">bold green</span><span class=\"ansi-bold\"> still bold</span>",
            ),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                "\u{1b}[38;5;4mblue\u{1b}[m",
                "<span class=\"ansi-fg4\">blue</span>",
            ),
            ("\u{1b}[2Kcleared\r", "cleared"),
        ];
        for (input, expected) in cases {
            assert_eq!(line_to_html(input), expected, "{input:?}");
        }
    }

    #[test]
    fn lines_are_numbered_with_linkable_anchors() {
        let html = lines_to_html("a\nb", 41);
        assert!(html.contains("id=\"L41\""), "{html}");
        assert!(
            html.contains("<a href=\"#L42\" aria-label=\"line 42\">42</a><code>b</code>"),
            "{html}"
        );
    }
}
