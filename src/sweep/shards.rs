//! Shards: one slice of a sweep's points (`--shard K/N`, or `auto` from a Slurm array task),
//! chosen round-robin so that every shard gets a similar mix of cheap and expensive points.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One slice of a sweep: points with `point % count == index - 1` (index from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parse `K/N`, or `auto` (from the Slurm array variables in `env`).
    pub fn parse(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let s = s.trim();
        if s == "auto" {
            return Shard::from_slurm(env);
        }
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard '{s}' is not K/N (e.g. --shard 2/8 runs the 2nd of 8 slices) or auto"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("--shard '{s}': '{k}' is not a whole number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard '{s}': '{n}' is not a whole number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!(
                "--shard {s}: K must be between 1 and N (shards are numbered 1..N), e.g. --shard 1/{}",
                n.max(1)
            ));
        }
        Ok(Shard { index: k, count: n })
    }

    /// The shard of this Slurm array task: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT
    /// (SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP when set, so `--array=0-7`, `1-8` and
    /// `0-14:2` all work).
    pub fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let get = |name: &str| -> Result<Option<u64>, String> {
            match env(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("--shard auto: {name}='{v}' is not a whole number")),
            }
        };
        let missing = |name: &str| {
            format!(
                "--shard auto reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, but {name} is not set: \
                 this is not a Slurm array task. Submit with `sbatch --array=1-N ...`, or give the slice \
                 yourself, e.g. --shard 1/4"
            )
        };
        let id = get("SLURM_ARRAY_TASK_ID")?.ok_or_else(|| missing("SLURM_ARRAY_TASK_ID"))?;
        let count = get("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| missing("SLURM_ARRAY_TASK_COUNT"))?;
        let min = get("SLURM_ARRAY_TASK_MIN")?.unwrap_or(if id < count { 0 } else { 1 });
        let step = get("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        if count == 0 || id < min || (id - min) % step != 0 || (id - min) / step >= count {
            return Err(format!(
                "--shard auto: SLURM_ARRAY_TASK_ID={id} does not fit an array of SLURM_ARRAY_TASK_COUNT={count} \
                 tasks starting at {min} with step {step}; submit a plain range such as --array=1-{}",
                count.max(1)
            ));
        }
        Ok(Shard {
            index: (id - min) / step + 1,
            count,
        })
    }

    /// Whether this shard runs `point`.
    pub fn owns(&self, point: u64) -> bool {
        point % self.count == self.index - 1
    }

    /// `shard-K-of-N`, the shard's directory under the sweep's output directory.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_points() {
        let env = |_: &str| None;
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::parse(&format!("{k}/3"), env).unwrap()).collect();
        for p in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.owns(p)).count(), 1);
        }
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "auto"] {
            assert!(Shard::parse(bad, env).is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_shards() {
        let slurm = |id: &str, count: &str, min: Option<&str>| {
            let (id, count, min) = (id.to_string(), count.to_string(), min.map(str::to_string));
            move |k: &str| match k {
                "SLURM_ARRAY_TASK_ID" => Some(id.clone()),
                "SLURM_ARRAY_TASK_COUNT" => Some(count.clone()),
                "SLURM_ARRAY_TASK_MIN" => min.clone(),
                _ => None,
            }
        };
        assert_eq!(
            Shard::parse("auto", slurm("0", "4", Some("0"))).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert_eq!(
            Shard::parse("auto", slurm("4", "4", Some("1"))).unwrap(),
            Shard { index: 4, count: 4 }
        );
        assert_eq!(
            Shard::parse("auto", slurm("3", "4", None)).unwrap(),
            Shard { index: 4, count: 4 }
        );
        assert_eq!(
            Shard::parse("auto", slurm("4", "4", None)).unwrap(),
            Shard { index: 4, count: 4 }
        );
        let e = Shard::parse("auto", |_| None).unwrap_err();
        assert!(e.contains("SLURM_ARRAY_TASK_ID is not set"), "{e}");
        assert!(Shard::parse("auto", slurm("9", "4", Some("1"))).is_err());
    }
}
