//! The chunked loader (used for files of 1 MB and more) against the whole-document loader:
//! both must give the same economy or the same rendered errors. The first byte picks the chunk
//! size (1 to 256 bytes, so that small inputs split into many chunks); the rest is the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pricegrad::scenario::{self, chunked, InputError};

#[path = "common.rs"]
mod common;

const LABEL: &str = "fuzz.toml";

fn render(r: &Result<pricegrad::economy::Economy, InputError>) -> String {
    match r {
        Ok(e) => format!("{e:?}"),
        Err(e) => format!("error:\n{e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // large counts are allowed and take memory in proportion (see common.rs)
    if let Ok(file) = scenario::parse(LABEL, text) {
        if common::has_large_count(&file) {
            return;
        }
    }
    let whole = scenario::load_whole(LABEL, text, &[], None);
    if let Err(e) = &whole {
        common::check_error(e, LABEL, text);
    }
    let chunk = 1 + pick as usize;
    if let Some(r) = chunked::load(LABEL, text, &[], None, chunk) {
        let (got, want) = (render(&r), render(&whole));
        assert!(
            got == want,
            "chunk size {chunk}:\n--- chunked:\n{got}\n--- whole:\n{want}"
        );
    }
});
