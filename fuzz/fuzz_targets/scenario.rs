//! Scenario text -> parse, validate -> Economy or an error, which is rendered and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const LABEL: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match common::load(LABEL, text, &[]) {
        Ok(economy) => common::check_economy(&economy),
        Err(e) => common::check_error(&e, LABEL, text),
    }
});
