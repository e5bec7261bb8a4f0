//! The split: the text of a large file cut at top-level lines into runs of whole
//! `[[firms]]` entries, runs of goods (`[goods]` lines, or whole `[goods.NAME]` tables) and
//! the rest ([`Plan`]), or None where that
//! might not be what a TOML parser would see; and the map from offsets in the rest's text back
//! to the file's ([`SegmentMap`]).

use std::ops::Range;

/// Where the chunks are: byte ranges of the file.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// The rest, in pieces (file order).
    pub(super) rest: Vec<Range<usize>>,
    /// Runs of `[goods]` lines, or of whole `[goods.NAME]` tables when `goods_tables`.
    pub(super) goods: Vec<Range<usize>>,
    /// Whether the goods are `[goods.NAME]` tables (never both spellings in one plan).
    pub(super) goods_tables: bool,
    /// Runs of whole `[[firms]]` entries.
    pub(super) firms: Vec<Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rest,
    Goods,
    GoodsTables,
    Firms,
}

impl Plan {
    fn push(&mut self, kind: Kind, r: Range<usize>) {
        if r.is_empty() {
            return;
        }
        match kind {
            Kind::Rest => match self.rest.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => self.rest.push(r),
            },
            Kind::Goods | Kind::GoodsTables => self.goods.push(r),
            Kind::Firms => self.firms.push(r),
        }
    }

    /// The rest as one text, and the map from its offsets to the file's.
    pub(super) fn rest_text(&self, text: &str) -> (String, SegmentMap) {
        let mut s = String::with_capacity(self.rest.iter().map(|r| r.len()).sum());
        let mut map = SegmentMap::default();
        for r in &self.rest {
            map.starts.push((s.len(), r.start));
            s.push_str(&text[r.clone()]);
        }
        (s, map)
    }
}

/// Offsets in the rest text -> offsets in the file.
#[derive(Default)]
pub(super) struct SegmentMap {
    /// (start in the rest text, start in the file) of each piece.
    starts: Vec<(usize, usize)>,
}

impl SegmentMap {
    /// The file offset of rest offset `p`; at a seam, an end belongs to the piece before.
    pub(super) fn pos(&self, p: usize, end: bool) -> usize {
        let k = self.starts.partition_point(|&(s, _)| if end { s < p } else { s <= p });
        match k.checked_sub(1) {
            Some(k) => self.starts[k].1 + (p - self.starts[k].0),
            None => p,
        }
    }
    pub(super) fn span(&self, r: Range<usize>) -> Range<usize> {
        self.pos(r.start, false)..self.pos(r.end, true).max(self.pos(r.start, false))
    }
}

/// Split the text at top-level lines, or None when that is not safe. With `chunk_goods`,
/// goods are chunked too: the lines of one `[goods]` table, or `[goods.NAME]` tables (a
/// header of exactly two keys, with its key/value lines) when there is no `[goods]` table
/// and no other header under `goods` (`[goods.a.b]`, `[[goods.a]]`, ...); otherwise the goods
/// stay in the rest.
pub(super) fn scan(text: &str, chunk: usize, chunk_goods: bool) -> Option<Plan> {
    let b = text.as_bytes();
    let mut plan = Plan::default();
    let mut pos = 0;
    let mut depth = 0i32;
    let mut section = Kind::Rest;
    let mut root = true;
    let mut goods_table = false;
    let mut other_goods = false;
    let mut goods_tables = false;
    let (mut cur_kind, mut cur_start) = (Kind::Rest, 0);
    while pos < b.len() {
        let end = memchr::memchr(b'\n', &b[pos..]).map_or(b.len(), |i| pos + i);
        let line = &b[pos..end];
        let next = (end + 1).min(b.len());
        let trimmed = trim_start(line);
        let at_top = depth == 0;
        let mut entry_start = false;
        let kind;
        if at_top && trimmed.first() == Some(&b'[') {
            let (array, first, keys) = header(trimmed)?;
            root = false;
            kind = match (first, array, keys) {
                ("firms", true, 1) => {
                    entry_start = true;
                    section = Kind::Firms;
                    Kind::Firms
                }
                ("firms", _, n) if n > 1 => {
                    if section != Kind::Firms {
                        return None;
                    }
                    Kind::Firms
                }
                ("firms", ..) => return None,
                ("goods", false, 1) => {
                    if goods_table {
                        return None;
                    }
                    goods_table = true;
                    section = if chunk_goods { Kind::Goods } else { Kind::Rest };
                    Kind::Rest
                }
                ("goods", false, 2) if chunk_goods => {
                    goods_tables = true;
                    entry_start = true;
                    section = Kind::GoodsTables;
                    Kind::GoodsTables
                }
                ("goods", ..) => {
                    other_goods = true;
                    section = Kind::Rest;
                    Kind::Rest
                }
                _ => {
                    section = Kind::Rest;
                    Kind::Rest
                }
            };
        } else {
            if at_top && root {
                match trimmed.first() {
                    Some(b'"' | b'\'') => return None,
                    Some(_) => {
                        let key: Vec<u8> = trimmed
                            .iter()
                            .copied()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                            .collect();
                        if key == b"firms" || key == b"goods" {
                            return None;
                        }
                    }
                    None => {}
                }
            }
            depth = brackets(line, depth)?;
            kind = section;
        }
        let split = at_top && pos - cur_start >= chunk && cur_kind == kind && (kind == Kind::Goods || entry_start);
        if kind != cur_kind || split {
            plan.push(cur_kind, cur_start..pos);
            cur_kind = kind;
            cur_start = pos;
        }
        pos = next;
    }
    if depth != 0 {
        return None;
    }
    plan.push(cur_kind, cur_start..b.len());
    if chunk_goods && !plan.goods.is_empty() && (other_goods || (goods_table && goods_tables)) {
        return scan(text, chunk, false);
    }
    plan.goods_tables = goods_tables;
    Some(plan)
}

fn trim_start(line: &[u8]) -> &[u8] {
    let i = line.iter().position(|&c| c != b' ' && c != b'\t').unwrap_or(line.len());
    &line[i..]
}

/// A table header line: (array of tables?, its first key, the number of keys), or None if it
/// is not a plain one.
fn header(line: &[u8]) -> Option<(bool, &str, usize)> {
    let array = line.starts_with(b"[[");
    let mut i = if array { 2 } else { 1 };
    let ws = |i: &mut usize| {
        while matches!(line.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    let (mut first, mut keys) = ("", 0);
    loop {
        ws(&mut i);
        let key = match *line.get(i)? {
            q @ (b'"' | b'\'') => {
                let len = line[i + 1..].iter().position(|&c| c == q)?;
                let k = &line[i + 1..i + 1 + len];
                if k.contains(&b'\\') {
                    return None;
                }
                i += len + 2;
                k
            }
            _ => {
                let s = i;
                while matches!(line.get(i), Some(c) if c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-') {
                    i += 1;
                }
                if i == s {
                    return None;
                }
                &line[s..i]
            }
        };
        let key = std::str::from_utf8(key).ok()?;
        if keys == 0 {
            first = key;
        }
        keys += 1;
        ws(&mut i);
        if line.get(i) == Some(&b'.') {
            i += 1;
        } else {
            break;
        }
    }
    let close: &[u8] = if array { b"]]" } else { b"]" };
    if !line[i..].starts_with(close) {
        return None;
    }
    i += close.len();
    ws(&mut i);
    match line.get(i) {
        None | Some(b'#') => Some((array, first, keys)),
        Some(b'\r') if i + 1 == line.len() => Some((array, first, keys)),
        _ => None,
    }
}

/// The bytes [`brackets`] looks at: quotes, comments, brackets and braces.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 7 {
        t[b"\"'#[]{}"[k] as usize] = true;
        k += 1;
    }
    t
};

/// Bracket depth after `line` (strings and comments skipped), or None if unbalanced or if a
/// multi-line string starts.
fn brackets(line: &[u8], mut depth: i32) -> Option<i32> {
    let mut i = 0;
    while i < line.len() {
        // most bytes are none of those: skip them with one table look-up each
        if !SPECIAL[line[i] as usize] {
            i += 1;
            continue;
        }
        match line[i] {
            q @ (b'"' | b'\'') if line[i..].starts_with(&[q, q, q]) => return None,
            b'"' => {
                i += 1;
                loop {
                    match *line.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'\'' => {
                i += 1 + line[i + 1..].iter().position(|&c| c == b'\'')?;
            }
            b'#' => break,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_splits_are_refused() {
        for text in [
            "name = \"\"\"x\"\"\"\n[[firms]]\nname = \"A\"\n",
            "firms = []\n[goods]\n",
            "goods.a = {}\n[[firms]]\n",
            "[firms]\n[[firms]]\n",
            "[market]\n[firms.x]\n",
            "[log]\ngoods = [\n[[firms]]\n",
            "[goods]\n[goods]\n[[firms]]\n",
        ] {
            assert!(scan(text, 1, true).is_none(), "{text}");
        }
        // an array spanning lines is not a header
        let plan = scan("[log]\ngoods = [\n[\"a\"],\n]\n[[firms]]\nname = \"A\"\n", 1, true).unwrap();
        assert_eq!(plan.firms.len(), 1);
    }

    /// `[goods.NAME]` tables are chunked, whole, only where no other spelling of goods is near.
    #[test]
    fn goods_tables_are_chunked_alone() {
        let t = "name = \"x\"\n[goods.a]\nprice = 1\n[goods.\"b\"] # c\nendowment = [\n1]\n[market]\n[goods.c]\n";
        let plan = scan(t, 1, true).unwrap();
        assert!(plan.goods_tables);
        let runs: Vec<&str> = plan.goods.iter().map(|r| &t[r.clone()]).collect();
        assert_eq!(
            runs,
            [
                "[goods.a]\nprice = 1\n",
                "[goods.\"b\"] # c\nendowment = [\n1]\n",
                "[goods.c]\n"
            ]
        );
        for other in ["[goods]\nd = {}\n", "[goods.d.e]\n", "[[goods.d]]\n", "[[goods]]\n"] {
            let t = format!("{t}{other}");
            let plan = scan(&t, 1, true).unwrap();
            assert!(plan.goods.is_empty() && !plan.goods_tables, "{other}");
        }
    }
}
