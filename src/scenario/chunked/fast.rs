//! The fast parser: a parser for the plain subset of TOML that `pricegrad generate` and the
//! README write: `[[firms]]` and `[goods.NAME]` headers, `key = value` lines with bare keys,
//! basic strings without escapes, decimal numbers, one-line inline tables and comments. It gives exactly what the `toml`
//! crate gives (values and spans) or None, and then the chunk goes to the `toml` crate
//! ([`super::pieces`]).

use crate::scenario::format::*;
use indexmap::IndexMap;
use std::ops::Range;
use toml::Spanned;

struct Cur<'a> {
    /// The text, and its bytes.
    t: &'a str,
    b: &'a [u8],
    i: usize,
    end: usize,
}

/// Bytes of a bare key.
const KEY: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        c += 1;
    }
    t
};

enum Number {
    Int(i64),
    Float(f64),
}

impl<'a> Cur<'a> {
    fn new(text: &'a str, r: &Range<usize>) -> Cur<'a> {
        Cur {
            t: text,
            b: text.as_bytes(),
            i: r.start,
            end: r.end,
        }
    }
    /// The text from byte `s` to here (None where that is not whole characters).
    fn since(&self, s: usize) -> Option<&'a str> {
        self.t.get(s..self.i)
    }
    fn peek(&self) -> Option<u8> {
        (self.i < self.end).then(|| self.b[self.i])
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    /// A comment to the end of the line (without control characters, as TOML wants).
    fn comment(&mut self) -> Option<()> {
        if self.peek() != Some(b'#') {
            return Some(());
        }
        while let Some(c) = self.peek() {
            match c {
                b'\n' => break,
                b'\t' => {}
                c if c < 0x20 || c == 0x7f => return None,
                _ => {}
            }
            self.i += 1;
        }
        Some(())
    }
    /// Spaces and a comment, then the end of the line.
    fn eol(&mut self) -> Option<()> {
        self.ws();
        self.comment()?;
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.i += 1;
                Some(())
            }
            _ => None,
        }
    }
    /// Skip blank and comment lines; false at the end (None: a bad comment).
    fn blank_lines(&mut self) -> Option<bool> {
        loop {
            let s = self.i;
            self.ws();
            self.comment()?;
            match self.peek() {
                None => return Some(false),
                Some(b'\n') => self.i += 1,
                _ => {
                    self.i = s;
                    return Some(true);
                }
            }
        }
    }
    fn key(&mut self) -> Option<&'a str> {
        let s = self.i;
        while self.i < self.end && KEY[self.b[self.i] as usize] {
            self.i += 1;
        }
        if self.i == s {
            return None;
        }
        self.since(s)
    }
    /// `key = ` (spaces around `=`).
    fn key_eq(&mut self) -> Option<&'a str> {
        let k = self.key()?;
        self.ws();
        self.eat(b'=')?;
        self.ws();
        Some(k)
    }
    fn string(&mut self) -> Option<Spanned<String>> {
        let s = self.i;
        self.eat(b'"')?;
        let v0 = self.i;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' | 0x7f => return None,
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        let v = self.since(v0)?.to_string();
        self.i += 1;
        Some(Spanned::new(s..self.i, v))
    }
    fn digits(&mut self) -> usize {
        let s = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - s
    }
    fn number(&mut self) -> Option<(Number, Range<usize>)> {
        let s = self.i;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.i += 1;
        }
        let d0 = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.b[d0] == b'0') {
            return None;
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
            float = true;
        }
        if !matches!(self.peek(), None | Some(b' ' | b'\t' | b',' | b'}' | b'\n')) {
            return None;
        }
        let lit = self.since(s)?;
        let v = if float {
            let f: f64 = lit.parse().ok()?;
            if f.is_infinite() {
                return None;
            }
            Number::Float(f)
        } else {
            Number::Int(lit.parse().ok()?)
        };
        Some((v, s..self.i))
    }
    fn num(&mut self) -> Option<Num> {
        let (v, r) = self.number()?;
        let value = match v {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        };
        Some(Num {
            value,
            origin: Origin::File(r),
        })
    }
    fn int(&mut self) -> Option<Int> {
        match self.number()? {
            (Number::Int(value), r) => Some(Int {
                value,
                origin: Origin::File(r),
            }),
            _ => None,
        }
    }
    fn text(&mut self) -> Option<Text> {
        let s = self.string()?;
        Some(Text {
            origin: Origin::File(s.span()),
            value: s.into_inner(),
        })
    }
    /// `{ k = v, ... }` on one line; `each` parses the value of key k. Returns the span.
    fn table(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<Range<usize>> {
        let s = self.i;
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(s..self.i);
        }
        loop {
            self.ws();
            let k = self.key_eq()?;
            each(self, k)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(s..self.i);
                }
                _ => return None,
            }
        }
    }
    fn num_table(&mut self) -> Option<Spanned<IndexMap<String, Num>>> {
        let mut map = IndexMap::new();
        let r = self.table(|c, k| {
            let v = c.num()?;
            map.insert(k.to_string(), v).is_none().then_some(())
        })?;
        Some(Spanned::new(r, map))
    }
}

#[inline]
fn once<T>(slot: &mut Option<T>, v: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v?);
    Some(())
}

/// The `[goods]` lines `name = { price = ..., endowment = ..., initial_price = ... }`.
pub(crate) fn goods(text: &str, r: Range<usize>) -> Option<Vec<(String, Spanned<GoodSpec>)>> {
    let mut c = Cur::new(text, &r);
    let mut out = Vec::new();
    while c.blank_lines()? {
        let name = c.key_eq()?.to_string();
        let mut g = GoodSpec::default();
        let span = c.table(|c, k| match k {
            "price" => once(&mut g.price, c.num()),
            "endowment" => once(&mut g.endowment, c.num()),
            "initial_price" => once(&mut g.initial_price, c.num()),
            _ => None,
        })?;
        c.eol()?;
        out.push((name, Spanned::new(span, g)));
    }
    Some(out)
}

/// Whole `[goods.NAME]` tables: a header (NAME a bare key, or a quoted one without escapes),
/// then `price`, `endowment` and `initial_price` lines.
pub(crate) fn goods_tables(text: &str, r: Range<usize>) -> Option<Vec<(String, Spanned<GoodSpec>)>> {
    let mut c = Cur::new(text, &r);
    let mut out = Vec::new();
    while c.blank_lines()? {
        let h0 = c.i;
        if !c.b[c.i..c.end].starts_with(b"[goods.") {
            return None;
        }
        c.i += b"[goods.".len();
        let name = match c.peek()? {
            q @ (b'"' | b'\'') => {
                c.i += 1;
                let s = c.i;
                loop {
                    match c.peek()? {
                        b'\\' | 0x7f => return None,
                        x if x < 0x20 => return None,
                        x if x == q => break,
                        _ => c.i += 1,
                    }
                }
                let name = c.since(s)?;
                c.i += 1;
                name
            }
            _ => c.key()?,
        };
        c.eat(b']')?;
        let mut last = c.i;
        c.eol()?;
        let mut g = GoodSpec::default();
        while c.blank_lines()? {
            if c.peek() == Some(b'[') {
                break;
            }
            match c.key_eq()? {
                "price" => once(&mut g.price, c.num())?,
                "endowment" => once(&mut g.endowment, c.num())?,
                "initial_price" => once(&mut g.initial_price, c.num())?,
                _ => return None,
            }
            last = c.i;
            c.eol()?;
        }
        out.push((name.to_string(), Spanned::new(h0..last, g)));
    }
    Some(out)
}

fn family(c: &mut Cur, fam: &str) -> Option<FamilySpec> {
    let mut scale = None;
    let mut rho = None;
    let mut returns = None;
    let mut exponent = None;
    let mut input = None;
    let mut table = None;
    let table_key = match fam {
        "cobb_douglas" => "exponents",
        "ces" => "weights",
        "power" => "",
        "linear" => "coefficients",
        "leontief" => "requirements",
        _ => return None,
    };
    c.table(|c, k| match (fam, k) {
        ("cobb_douglas" | "ces" | "power" | "leontief", "scale") => once(&mut scale, c.num()),
        ("ces", "rho") => once(&mut rho, c.num()),
        ("ces", "returns") => once(&mut returns, c.num()),
        ("power", "exponent") => once(&mut exponent, c.num()),
        ("power", "input") => once(&mut input, c.string()),
        (_, k) if k == table_key => once(&mut table, c.num_table()),
        _ => None,
    })?;
    Some(match fam {
        "cobb_douglas" => FamilySpec::CobbDouglas {
            scale,
            exponents: table?,
        },
        "ces" => FamilySpec::Ces {
            scale,
            rho: rho?,
            returns,
            weights: table?,
        },
        "power" => FamilySpec::Power {
            scale,
            exponent: exponent?,
            input: input?,
        },
        "linear" => {
            if scale.is_some() {
                return None;
            }
            FamilySpec::Linear { coefficients: table? }
        }
        _ => FamilySpec::Leontief {
            scale,
            requirements: table?,
        },
    })
}

fn production(c: &mut Cur) -> Option<Spanned<ProductionSpec>> {
    if c.peek()? == b'"' {
        let s = c.string()?;
        let r = s.span();
        return Some(Spanned::new(r, ProductionSpec::Expression(s.into_inner())));
    }
    let mut fam = None;
    let r = c.table(|c, k| once(&mut fam, family(c, k)))?;
    Some(Spanned::new(r, ProductionSpec::Family(fam?)))
}

/// Whole `[[firms]]` entries.
#[cfg(test)]
pub(crate) fn firms(text: &str, r: Range<usize>) -> Option<Vec<Spanned<FirmSpec>>> {
    let mut out = Vec::new();
    each_firm(text, r, |f| out.push(f))?;
    Some(out)
}

/// Whole `[[firms]]` entries, handed to `each` one by one as they are read (so that each
/// is validated and freed before the next is read). None: not the plain subset (some
/// entries may have been handed over already).
pub(crate) fn each_firm(text: &str, r: Range<usize>, mut each: impl FnMut(Spanned<FirmSpec>)) -> Option<()> {
    let mut c = Cur::new(text, &r);
    while c.blank_lines()? {
        let h0 = c.i;
        if !c.b[c.i..c.end].starts_with(b"[[firms]]") {
            return None;
        }
        c.i += b"[[firms]]".len();
        let mut last = c.i;
        c.eol()?;
        let mut name = None;
        let mut output = None;
        let mut outputs = None;
        let mut production_ = None;
        let mut count = None;
        let mut productivity = None;
        let mut productivity_spread = None;
        let mut rule = None;
        let mut rate = None;
        let mut form = None;
        let mut noise = None;
        let mut activation = None;
        while c.blank_lines()? {
            if c.peek() == Some(b'[') {
                break;
            }
            let k = c.key_eq()?;
            match k {
                "name" => once(&mut name, c.string())?,
                "output" => once(&mut output, c.string())?,
                "outputs" => once(&mut outputs, c.num_table())?,
                "production" => once(&mut production_, production(&mut c))?,
                "count" => once(&mut count, c.int())?,
                "productivity" => once(&mut productivity, c.num())?,
                "productivity_spread" => once(&mut productivity_spread, c.num())?,
                "rule" => once(&mut rule, c.text())?,
                "rate" => once(&mut rate, c.num())?,
                "form" => once(&mut form, c.text())?,
                "noise" => once(&mut noise, c.num())?,
                "activation" => once(&mut activation, c.num())?,
                _ => return None,
            }
            last = c.i;
            c.eol()?;
        }
        let spec = FirmSpec {
            name: name?,
            output,
            outputs,
            production: production_?,
            count,
            productivity,
            productivity_spread,
            rule,
            rate,
            form,
            noise,
            activation,
            production_set: None,
        };
        each(Spanned::new(h0..last, spec));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::pieces::{toml_firms, toml_goods, toml_goods_tables};
    use super::super::plan::scan;
    use super::*;

    /// Files written by `pricegrad generate --layers 3 --width 40 --seed 1` (one per family),
    /// kept as fixtures so that this module does not depend on the generator.
    const GENERATED: [&str; 4] = [
        include_str!("../../../tests/fixtures/generated_cobb_douglas.toml"),
        include_str!("../../../tests/fixtures/generated_ces.toml"),
        include_str!("../../../tests/fixtures/generated_power.toml"),
        include_str!("../../../tests/fixtures/generated_expression.toml"),
    ];

    /// The fast parser reads every chunk of generated files, exactly as the toml crate does.
    #[test]
    fn fast_parser_reads_generated_files_like_toml() {
        for text in GENERATED {
            for chunk in [1, 500, 1 << 20] {
                let plan = scan(text, chunk, true).expect("generated files split");
                assert!(!plan.firms.is_empty() && !plan.goods.is_empty());
                for r in &plan.firms {
                    let fast = firms(text, r.clone()).expect("the fast parser reads generated firms");
                    let slow = toml_firms(text, r.clone()).ok().unwrap();
                    assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
                }
                for r in &plan.goods {
                    let fast = goods(text, r.clone()).expect("the fast parser reads generated goods");
                    let slow = toml_goods(text, r.clone()).ok().unwrap();
                    assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
                }
            }
        }
    }

    /// A generated file's `[goods]` lines as `[goods.NAME]` tables, one `key = value` line each.
    fn as_tables(text: &str) -> String {
        let mut out = String::new();
        let mut in_goods = false;
        for line in text.lines() {
            if line.starts_with('[') {
                in_goods = line == "[goods]";
                if in_goods {
                    continue;
                }
            } else if in_goods && line.contains(" = {") {
                let (name, rest) = line.split_once(" = ").unwrap();
                out += &format!("[goods.{name}]\n");
                let inner = rest.trim().trim_start_matches('{').trim_end_matches('}');
                for kv in inner.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
                    out += &format!("{kv}\n");
                }
                continue;
            }
            out += line;
            out.push('\n');
        }
        out
    }

    /// The fast parser reads every chunk of `[goods.NAME]` tables exactly as the toml crate does.
    #[test]
    fn fast_parser_reads_goods_tables_like_toml() {
        for text in GENERATED {
            let text = as_tables(text);
            for chunk in [1, 500, 1 << 20] {
                let plan = scan(&text, chunk, true).expect("goods tables split");
                assert!(plan.goods_tables && !plan.goods.is_empty());
                for r in &plan.goods {
                    assert!(text[r.clone()].starts_with("[goods."), "{}", &text[r.clone()]);
                    let fast = goods_tables(&text, r.clone()).expect("the fast parser reads goods tables");
                    let slow = toml_goods_tables(&text, r.clone()).ok().unwrap();
                    assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
                }
            }
        }
    }

    /// Values at the edges of the subset: the fast parser agrees with toml or declines.
    #[test]
    fn fast_parser_agrees_or_declines() {
        let values = [
            "0",
            "-0",
            "+1",
            "01",
            "1.",
            "1.5",
            "-2.5e-3",
            "1e5",
            "1E+05",
            "1_000",
            "0x1f",
            "1e400",
            "-1e400",
            "9223372036854775807",
            "9223372036854775808",
            "inf",
            "nan",
            "\"x\"",
            "1979-05-27",
            "2.0.",
            "-",
            ".5",
        ];
        for v in values {
            for field in ["rate", "count"] {
                let text = format!(
                    "[[firms]]\nname = \"A\"\nproduction = {{ power = {{ exponent = {v}, input = \"x\" }} }}\n{field} = {v}\n"
                );
                let r = 0..text.len();
                let slow = toml_firms(&text, r.clone()).ok();
                if let Some(fast) = firms(&text, r) {
                    assert_eq!(format!("{fast:?}"), format!("{:?}", slow.expect(v)), "{v}");
                }
            }
        }
        for line in [
            "a = { }",
            "a = {}",
            "a = { price = 1, }",
            "a = { price = 1 price = 2 }",
            "a = { price = 1, price = 2 }",
            "a = { bogus = 1 }",
            "a={price=1}",
            "a = { price = 1 } # c",
            "\"a\" = { price = 1 }",
            "a = { price = \"1\" }",
        ] {
            let text = format!("{line}\n");
            let r = 0..text.len();
            let slow = toml_goods(&text, r.clone()).ok();
            if let Some(fast) = goods(&text, r) {
                assert_eq!(format!("{fast:?}"), format!("{:?}", slow.expect(line)), "{line}");
            }
        }
        let mut declined = 0;
        for table in [
            "[goods.a]\nprice = 1\n",
            "[goods.a]\n",
            "[goods.a]\n\n[goods.b]\nendowment = 2.5 # c\n",
            "[goods.a] # c\n  price = 1\n\tendowment=2\n",
            "[goods.\"a b\"]\nprice = 1\n",
            "[goods.'a\\b']\nprice = 1\n",
            "[goods.\"a\\u0041\"]\nprice = 1\n",
            "[goods.\"\"]\nprice = 1\n",
            "[goods.a]\nprice = 1\nprice = 2\n",
            "[goods.a]\nprise = 1\n",
            "[goods.a]\nprice = \"1\"\n",
            "[goods.a]\nprice.x = 1\n",
            "[goods.a]\nprice = 1 endowment = 2\n",
            "[goods.a]x\nprice = 1\n",
            "[ goods.a ]\nprice = 1\n",
            "[goods.a]\r\nprice = 1\r\n",
            "[goods.a]\n[goods.a.b]\n",
        ] {
            let r = 0..table.len();
            let slow = toml_goods_tables(table, r.clone()).ok();
            match goods_tables(table, r) {
                Some(fast) => assert_eq!(format!("{fast:?}"), format!("{:?}", slow.expect(table)), "{table}"),
                None => declined += 1,
            }
        }
        assert!(declined < 16, "the fast parser declines too much ({declined})");
        // a good defined twice is not the parser's to see (the loader finds equal names)
        let twice = "[goods.a]\nprice = 1\n[goods.a]\nprice = 2\n";
        assert!(toml_goods_tables(twice, 0..twice.len()).is_err());
        assert_eq!(goods_tables(twice, 0..twice.len()).map(|l| l.len()), Some(2));
    }
}
