//! A chunk parsed by the `toml` crate (when the fast parser declines it), its spans moved
//! from the chunk's offsets to the file's, or the error it gives, located in the file.

use super::shift::Shift;
use crate::scenario::error::{Location, Problem};
use crate::scenario::format::*;
use indexmap::IndexMap;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

/// A chunk that the `toml` crate rejected, located in the file.
pub(super) struct PieceError {
    pub(super) problem: Problem,
    /// Whether the chunk is not even TOML (a syntax error), rather than TOML of the wrong
    /// shape (a type error, an unknown or missing key).
    pub(super) syntax: bool,
}

fn toml_piece<T: serde::de::DeserializeOwned>(text: &str, r: &Range<usize>) -> Result<T, PieceError> {
    toml::from_str::<T>(&text[r.clone()]).map_err(|e| {
        let mut p = crate::scenario::toml_error::toml_problem(&e, &text[r.clone()]);
        if let Location::Span(s) = &mut p.location {
            *s = s.start + r.start..s.end + r.start;
        }
        // a type error comes from a chunk that parses as TOML
        let syntax = text[r.clone()].parse::<toml_edit::DocumentMut>().is_err();
        PieceError { problem: p, syntax }
    })
}

pub(super) fn toml_goods(text: &str, r: Range<usize>) -> Result<Vec<(String, Spanned<GoodSpec>)>, PieceError> {
    let mut map: IndexMap<String, Spanned<GoodSpec>> = toml_piece(text, &r)?;
    map.shift(&|p, _| p + r.start);
    Ok(map.into_iter().collect())
}

/// A run of whole `[goods.NAME]` tables.
pub(super) fn toml_goods_tables(text: &str, r: Range<usize>) -> Result<Vec<(String, Spanned<GoodSpec>)>, PieceError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Chunk {
        goods: IndexMap<String, Spanned<GoodSpec>>,
    }
    let mut chunk: Chunk = toml_piece(text, &r)?;
    chunk.goods.shift(&|p, _| p + r.start);
    Ok(chunk.goods.into_iter().collect())
}

pub(super) fn toml_firms(text: &str, r: Range<usize>) -> Result<Vec<Spanned<FirmSpec>>, PieceError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Chunk {
        firms: Vec<Spanned<FirmSpec>>,
    }
    let mut chunk: Chunk = toml_piece(text, &r)?;
    chunk.firms.shift(&|p, _| p + r.start);
    Ok(chunk.firms)
}
