//! Log lines to HTML, with ANSI SGR colours as `<span class="ansi-…">` runs: [`log_lines_html`], the console's
//! one hand-written (raw) HTML, kept out of `html!` because a 512 KiB log page is rendered per request and per
//! live update. Styles are reset at every line so a line's rendering depends on that line alone (line anchors
//! stay stable when pages load out of order). Other escape sequences and control characters are dropped.

use maud::{Markup, PreEscaped, Render};

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
    /// Writes the class list (`ansi-fg1 ansi-bold`): fixed names and numbers only, nothing from the log.
    fn write_classes(&self, out: &mut String) {
        let mut separator = "";
        for (colour, prefix) in [(self.fg, "ansi-fg"), (self.bg, "ansi-bg")] {
            if let Some(colour) = colour {
                out.push_str(separator);
                out.push_str(prefix);
                colour.render_to(out);
                separator = " ";
            }
        }
        for (on, name) in [
            (self.bold, "ansi-bold"),
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if on {
                out.push_str(separator);
                out.push_str(name);
                separator = " ";
            }
        }
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

/// **Raw HTML, audited.** Renders log `bytes` (lines separated by `\n`, the last without one; bytes that are
/// not UTF-8 become U+FFFD) numbered from `first` as
/// `<div class="ln" id="L12"><a href="#L12" aria-label="line 12">12</a><code>…</code></div>`.
///
/// This is the console's only `PreEscaped`: every other page is built with `html!`. It is safe because every
/// piece of log text reaches the output through maud's escaper (`Render for str`, the one `html!` uses), and
/// what is written unescaped is fixed markup, class names from [`Style::write_classes`] and line numbers.
pub fn log_lines_html(bytes: &[u8], first: u64) -> Markup {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 2 + 64);
    for (n, line) in (first..).zip(text.split('\n')) {
        out.push_str("<div class=\"ln\" id=\"L");
        n.render_to(&mut out);
        out.push_str("\"><a href=\"#L");
        n.render_to(&mut out);
        out.push_str("\" aria-label=\"line ");
        n.render_to(&mut out);
        out.push_str("\">");
        n.render_to(&mut out);
        out.push_str("</a><code>");
        write_line(line, &mut out);
        out.push_str("</code></div>");
    }
    PreEscaped(out)
}

/// One line's text as escaped runs, a `<span>` around each run that has a style.
fn write_line(line: &str, out: &mut String) {
    let bytes = line.as_bytes();
    let mut run = Run {
        style: Style::default(),
        open: false,
    };
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                run.text(&line[start..i], out);
                i = match csi(line, i + 1) {
                    Some((params, 'm', next)) => {
                        run.restyle(params, out);
                        next
                    }
                    Some((_, _, next)) => next,
                    None => i + 1,
                };
                start = i;
            }
            b'\t' => i += 1,
            0x00..=0x1f | 0x7f => {
                run.text(&line[start..i], out);
                i += 1;
                start = i;
            }
            // U+0080..U+009F, the C1 controls.
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => {
                run.text(&line[start..i], out);
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    run.text(&line[start..], out);
    run.close(out);
}

/// A control sequence after an ESC at `at`: `[`, parameters (digits, `;`, `?`) and a final character, as
/// (parameters, final character, where the text goes on); `None` when `[` does not follow. A sequence cut off
/// by the end of the line ends the line, with `'\0'` as its final character.
fn csi(line: &str, at: usize) -> Option<(&str, char, usize)> {
    if line.as_bytes().get(at) != Some(&b'[') {
        return None;
    }
    let from = at + 1;
    let end = line.as_bytes()[from..]
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b';' || *b == b'?'))
        .map_or(line.len(), |p| from + p);
    let params = &line[from..end];
    match line[end..].chars().next() {
        Some(c) => Some((params, c, end + c.len_utf8())),
        None => Some((params, '\0', end)),
    }
}

/// The text runs of one line: a `<span>` opens before the first text of a styled run and closes at the next
/// style change, so a style change with no text between writes nothing.
struct Run {
    style: Style,
    open: bool,
}

impl Run {
    fn text(&mut self, text: &str, out: &mut String) {
        if text.is_empty() {
            return;
        }
        if !self.open && self.style != Style::default() {
            out.push_str("<span class=\"");
            self.style.write_classes(out);
            out.push_str("\">");
            self.open = true;
        }
        // `Render for str` is maud's escaper: `&`, `<`, `>` and `"` become entities.
        text.render_to(out);
    }

    fn restyle(&mut self, params: &str, out: &mut String) {
        self.close(out);
        self.style.apply(params);
    }

    fn close(&mut self, out: &mut String) {
        if self.open {
            out.push_str("</span>");
            self.open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_to_html(line: &str) -> String {
        let mut out = String::new();
        write_line(line, &mut out);
        out
    }

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
    fn control_characters_and_cut_sequences_are_dropped_and_runs_span_them() {
        let cases = [
            (
                "a\u{1b}[31mb\u{1b}[2Kc\u{7}d",
                "a<span class=\"ansi-fg1\">bcd</span>",
            ),
            ("tab\there\u{85}!\u{1b}x", "tab\there!x"),
            ("\u{1b}[31m\u{1b}[32m\u{1b}[0mnothing styled", "nothing styled"),
            ("cut \u{1b}[3", "cut "),
            ("\u{1b}[1é after", " after"),
            (
                "\u{1b}[97;100mé 日本\u{1b}[0m",
                "<span class=\"ansi-fg15 ansi-bg8\">é 日本</span>",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(line_to_html(input), expected, "{input:?}");
        }
    }

    #[test]
    fn lines_are_numbered_with_linkable_anchors() {
        let html = log_lines_html(b"a\nb", 41).into_string();
        assert!(html.contains("id=\"L41\""), "{html}");
        assert!(
            html.contains("<a href=\"#L42\" aria-label=\"line 42\">42</a><code>b</code>"),
            "{html}"
        );
    }

    #[test]
    fn this_is_the_only_file_of_the_server_that_writes_unescaped_html() {
        fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read the source dir") {
                let path = entry.expect("a dir entry").path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let raw: Vec<_> = files
            .iter()
            .filter(|f| std::fs::read_to_string(f).is_ok_and(|text| text.contains("PreEscaped")))
            .filter_map(|f| f.file_name().and_then(|n| n.to_str()))
            .collect();
        assert_eq!(raw, ["ansi.rs"], "raw HTML belongs in log_lines_html alone");
    }

    #[test]
    fn hostile_log_text_comes_out_escaped_in_every_position() {
        let hostile: &[u8] =
            b"<script>alert(\"x\")</script> & 'q'\n\x1b[31m</code></div><img src=x onerror=alert(1)>\x1b[0m\n\xff\xfe<b>\xc3";
        let html = log_lines_html(hostile, 1).into_string();
        assert_eq!(
            html,
            "<div class=\"ln\" id=\"L1\"><a href=\"#L1\" aria-label=\"line 1\">1</a><code>\
&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q'</code></div>\
<div class=\"ln\" id=\"L2\"><a href=\"#L2\" aria-label=\"line 2\">2</a><code><span class=\"ansi-fg1\">\
&lt;/code&gt;&lt;/div&gt;&lt;img src=x onerror=alert(1)&gt;</span></code></div>\
<div class=\"ln\" id=\"L3\"><a href=\"#L3\" aria-label=\"line 3\">3</a><code>\u{fffd}\u{fffd}&lt;b&gt;\u{fffd}</code></div>"
        );
        for tag in ["<script", "<img", "<b>"] {
            assert!(!html.contains(tag), "{tag} in {html}");
        }
    }
}
