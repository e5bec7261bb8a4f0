//! Which vector instruction set the tick's loops run on. Each loop is one Rust function
//! compiled several times (portable x86-64, AVX2, AVX-512) and picked at run time from what the
//! CPU reports; none uses FMA, so every operation rounds as IEEE says and every level gives the
//! same bits. Tests run every level the machine has ([`Level::available`]).

/// A vector instruction set, in increasing order of width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Whatever the compilation target has (SSE2 on plain x86-64): 2 f64 lanes.
    Portable,
    /// AVX2: 4 f64 lanes.
    Avx2,
    /// AVX-512 (foundation): 8 f64 lanes.
    Avx512,
}

/// The widest level [`Level::best`] may return ([`Level::limit`]); `u8::MAX` for no limit.
static LIMIT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

impl Level {
    /// The level the tick's loops run on: the widest this CPU supports, or narrower if
    /// [`Level::limit`] said so.
    #[inline]
    pub fn best() -> Level {
        let limit = LIMIT.load(std::sync::atomic::Ordering::Relaxed);
        let detected = Level::detected();
        [Level::Portable, Level::Avx2, Level::Avx512]
            .get(limit as usize)
            .map_or(detected, |&l| l.min(detected))
    }

    /// The widest level this CPU supports (the answer is cached by the standard library).
    #[inline]
    pub fn detected() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Level::Avx2;
            }
        }
        Level::Portable
    }

    /// Run the tick's loops on at most `level` from now on (`None`: the widest the CPU has),
    /// in every thread: for comparing the levels' speed in one process (`examples/tick_bench
    /// --levels`). The results do not depend on it.
    pub fn limit(level: Option<Level>) {
        LIMIT.store(level.map_or(u8::MAX, |l| l as u8), std::sync::atomic::Ordering::Relaxed);
    }

    /// Every level this CPU supports, narrowest first (whatever the limit).
    pub fn available() -> Vec<Level> {
        [Level::Portable, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| *l <= Level::detected())
            .collect()
    }

    /// The level named `name` (`portable`, `avx2`, `avx512`).
    pub fn parse(name: &str) -> Option<Level> {
        match name {
            "portable" => Some(Level::Portable),
            "avx2" => Some(Level::Avx2),
            "avx512" => Some(Level::Avx512),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_levels_follow_the_cpu() {
        let available = Level::available();
        assert_eq!(available[0], Level::Portable);
        assert_eq!(*available.last().unwrap(), Level::detected());
        assert!(Level::best() <= Level::detected());
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(
                available.contains(&Level::Avx2),
                std::arch::is_x86_feature_detected!("avx2")
            );
            assert_eq!(
                available.contains(&Level::Avx512),
                std::arch::is_x86_feature_detected!("avx512f")
            );
        }
        // a machine that must test the AVX-512 loops says so (e.g. CI on an AVX-512 runner)
        if std::env::var_os("PRICEGRAD_REQUIRE_AVX512").is_some() {
            assert!(
                available.contains(&Level::Avx512),
                "PRICEGRAD_REQUIRE_AVX512 is set but the CPU has no AVX-512"
            );
        }
    }
}
