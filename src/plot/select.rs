//! A part of a run to chart (`pricegrad plot --goods --ticks`): which goods and which ticks,
//! and what was selected, for the chart's subtitle.

use super::PlotError;
use std::fmt;
use std::str::FromStr;

/// Ticks from `from` to `to`, both included; an end left out is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickRange {
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl TickRange {
    /// Every tick.
    pub const ALL: TickRange = TickRange { from: None, to: None };

    pub fn contains(&self, tick: u64) -> bool {
        self.from.is_none_or(|a| tick >= a) && self.to.is_none_or(|b| tick <= b)
    }

    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// `A:B`, `A:` or `:B`.
impl FromStr for TickRange {
    type Err = String;

    fn from_str(s: &str) -> Result<TickRange, String> {
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not A:B (ticks A to B, both included), e.g. 100:400, 100: or :400"))?;
        let end = |v: &str| -> Result<Option<u64>, String> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<u64>()
                .map(Some)
                .map_err(|_| format!("'{v}' is not a tick (a whole number from 0), in '{s}'"))
        };
        let range = TickRange {
            from: end(a)?,
            to: end(b)?,
        };
        match (range.from, range.to) {
            (None, None) => Err(format!(
                "'{s}' leaves both ends open: give A, B or both, e.g. 100:400, 100: or :400"
            )),
            (Some(a), Some(b)) if a > b => {
                Err(format!("'{s}' starts after it ends: A must be at most B, e.g. {b}:{a}"))
            }
            _ => Ok(range),
        }
    }
}

impl fmt::Display for TickRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = self.from {
            write!(f, "{a}")?;
        }
        f.write_str(":")?;
        if let Some(b) = self.to {
            write!(f, "{b}")?;
        }
        Ok(())
    }
}

/// The part of a run to read and chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Only these goods (names as the run's files spell them); empty: every good.
    pub goods: Vec<String>,
    /// Only these ticks.
    pub ticks: TickRange,
}

impl Selection {
    /// The whole run.
    pub fn is_all(&self) -> bool {
        self.goods.is_empty() && self.ticks.is_all()
    }

    /// The selected goods that the run has, in the run's order, or an error naming the ones it
    /// has not (with the closest name) and listing the run's goods.
    pub(super) fn goods_of(&self, run_goods: &[String]) -> Result<Vec<String>, PlotError> {
        if self.goods.iter().any(|g| g.trim().is_empty()) {
            return Err(PlotError::Selection {
                message: "--goods has an empty name".to_string(),
                help: "give the goods' names separated by commas, e.g. --goods natgas,ethylene".to_string(),
            });
        }
        let unknown: Vec<&str> = self
            .goods
            .iter()
            .map(|g| g.trim())
            .filter(|g| !run_goods.iter().any(|r| r == g))
            .collect();
        if !unknown.is_empty() {
            let quoted: Vec<String> = unknown.iter().map(|g| format!("'{g}'")).collect();
            let message = match quoted.as_slice() {
                [one] => format!("{one} is not a good of this run (--goods)"),
                [rest @ .., last] => format!("{} and {last} are not goods of this run (--goods)", rest.join(", ")),
                [] => unreachable!(),
            };
            let names = run_goods.iter().map(String::as_str);
            let mut help = String::new();
            for g in &unknown {
                if let Some(c) = crate::scenario::error::closest(g, names.clone()) {
                    if unknown.len() == 1 {
                        help.push_str(&format!("did you mean '{c}'? "));
                    } else {
                        help.push_str(&format!("did you mean '{c}' for '{g}'? "));
                    }
                }
            }
            help.push_str(&format!("the run's goods are {}", list(run_goods, 30)));
            return Err(PlotError::Selection { message, help });
        }
        Ok(run_goods
            .iter()
            .filter(|r| self.goods.iter().any(|g| g.trim() == r.as_str()))
            .cloned()
            .collect())
    }
}

/// What a chart of a part of a run was drawn from, for its subtitle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selected {
    /// Every good of the run, in the order of its files.
    pub run_goods: Vec<String>,
    /// Whether only some goods were selected.
    pub goods: bool,
    /// The ticks asked for, if any.
    pub ticks: Option<TickRange>,
    /// The first and last logged tick of the whole run.
    pub run_ticks: (u64, u64),
}

/// "a, b, c" (at most `max` names, then how many more).
pub(super) fn list(names: &[String], max: usize) -> String {
    let mut s = names.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > max {
        s.push_str(&format!(", … ({} in all)", names.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::fixtures::Synth;
    use crate::plot::run_data::MAX_CHART_TICKS;
    use crate::plot::{read_run, read_run_selected};

    fn ticks(s: &str) -> Selection {
        Selection {
            goods: vec![],
            ticks: s.parse().unwrap(),
        }
    }

    /// A range of a long run is read at full resolution when it is short, thinned to at most
    /// MAX_CHART_TICKS when it is long, with its last tick; a run's whole data is read as before.
    #[test]
    fn a_range_is_read_within_the_bound_at_its_own_resolution() {
        let d = tempfile::tempdir().unwrap();
        Synth {
            goods: 2,
            ticks: 45_000,
            ..Synth::converged()
        }
        .write(d.path());
        let whole = read_run(d.path()).unwrap();
        assert_eq!(read_run_selected(d.path(), &Selection::default()).unwrap(), whole);
        assert!(whole.metrics.iter().all(|m| m.tick % 3 == 0 || m.tick == 45_000));
        // 301 ticks: all of them, though the whole run is read every 3rd
        let part = read_run_selected(d.path(), &ticks("100:400")).unwrap();
        let t: Vec<u64> = part.metrics.iter().map(|m| m.tick).collect();
        assert_eq!(t, (100..=400).collect::<Vec<u64>>());
        assert_eq!(part.trajectory.len(), 2 * 301);
        assert_eq!(part.logged_ticks, 301);
        let sel = part.selected.unwrap();
        assert_eq!(
            (sel.run_ticks, sel.ticks, sel.goods),
            ((0, 45_000), Some(ticks("100:400").ticks), false)
        );
        // 40,000 ticks: every 2nd and the last
        let part = read_run_selected(d.path(), &ticks("5001:")).unwrap();
        assert_eq!(part.logged_ticks, 40_000);
        assert_eq!(part.metrics.len(), MAX_CHART_TICKS + 1);
        assert_eq!(part.metrics.first().unwrap().tick, 5001);
        assert_eq!(part.metrics[1].tick, 5003);
        assert_eq!(part.metrics.last().unwrap().tick, 45_000);
        assert_eq!(part.trajectory.len(), 2 * part.metrics.len());
    }

    #[test]
    fn goods_and_the_shock_wave_are_selected() {
        let d = tempfile::tempdir().unwrap();
        Synth {
            goods: 4,
            ticks: 300,
            shocks: vec![(100, "tupperware.price=2"), (200, "steel.endowment=0.5")],
            ..Synth::converged()
        }
        .write(d.path());
        std::fs::write(
            d.path().join("propagation.csv"),
            "shock_tick,good,depth,arrival_tick,final_change\n100,steel,1,102,1.5\n100,grain,2,104,0.2\n200,steel,1,202,1\n",
        )
        .unwrap();
        let sel = Selection {
            goods: vec!["steel".into(), "labour".into()],
            ticks: "150:".parse().unwrap(),
        };
        let part = read_run_selected(d.path(), &sel).unwrap();
        assert!(part
            .trajectory
            .iter()
            .all(|r| r.tick >= 150 && (r.good == "steel" || r.good == "labour")));
        assert_eq!(part.trajectory.len(), 2 * 151);
        assert_eq!(part.metrics.iter().filter(|m| m.shock.is_some()).count(), 1);
        // the wave of the shock at 200, of steel
        assert_eq!(part.propagation.len(), 1);
        assert_eq!(
            (part.propagation[0].shock_tick, part.propagation[0].good.as_str()),
            (Some(200), "steel")
        );
        let sel = part.selected.unwrap();
        assert_eq!(sel.run_goods, ["tupperware", "steel", "grain", "labour"]);
        assert!(sel.goods);
        // an unknown good is an error, before anything else is read
        let e = read_run_selected(
            d.path(),
            &Selection {
                goods: vec!["steal".into()],
                ticks: TickRange::ALL,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("'steal' is not a good"), "{e}");
        // a metrics.csv without rows is read (as read_run reads it), goods selected
        let metrics = std::fs::read_to_string(d.path().join("metrics.csv")).unwrap();
        std::fs::write(d.path().join("metrics.csv"), metrics.lines().next().unwrap()).unwrap();
        let goods = Selection {
            goods: vec!["grain".into()],
            ticks: TickRange::ALL,
        };
        let part = read_run_selected(d.path(), &goods).unwrap();
        assert!(part.metrics.is_empty());
        assert_eq!(part.trajectory.len(), 301);
        assert!(part.trajectory.iter().all(|r| r.good == "grain"));
    }

    #[test]
    fn a_range_without_logged_ticks_names_the_nearest() {
        let d = tempfile::tempdir().unwrap();
        Synth {
            goods: 1,
            ticks: 100,
            every: 10,
            ..Synth::converged()
        }
        .write(d.path());
        let msg = |r: &str| match read_run_selected(d.path(), &ticks(r)).unwrap_err() {
            PlotError::Selection { message, help } => format!("{message} / {help}"),
            e => panic!("{e}"),
        };
        assert_eq!(
            msg("41:49"),
            "--ticks 41:49 holds no logged tick of this run / the run logged 11 ticks, from 0 to 100; \
             the nearest to 41:49 are 40 and 50"
        );
        assert!(msg("101:").ends_with("the nearest to 101: is 100"), "{}", msg("101:"));
        assert_eq!(read_run_selected(d.path(), &ticks("40:40")).unwrap().metrics.len(), 1);
    }

    #[test]
    fn tick_ranges_parse_with_open_ends() {
        let r: TickRange = "100:400".parse().unwrap();
        assert_eq!((r.from, r.to), (Some(100), Some(400)));
        assert!(r.contains(100) && r.contains(400) && !r.contains(99) && !r.contains(401));
        let r: TickRange = "100:".parse().unwrap();
        assert_eq!((r.from, r.to), (Some(100), None));
        assert!(r.contains(u64::MAX) && !r.contains(99));
        assert_eq!(r.to_string(), "100:");
        let r: TickRange = ":400".parse().unwrap();
        assert_eq!((r.from, r.to), (None, Some(400)));
        assert!(r.contains(0) && !r.contains(401));
        assert_eq!(" 7 : 7 ".parse::<TickRange>().unwrap().to_string(), "7:7");
        for (bad, says) in [
            ("400:100", "starts after it ends"),
            ("100", "is not A:B"),
            (":", "both ends open"),
            ("a:5", "'a' is not a tick"),
            ("-1:5", "'-1' is not a tick"),
            ("1.5:", "'1.5' is not a tick"),
        ] {
            let e = bad.parse::<TickRange>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_goods_are_named_with_a_suggestion() {
        let run: Vec<String> = ["natgas", "ethylene", "polyethylene"].map(String::from).to_vec();
        let sel = |g: &[&str]| Selection {
            goods: g.iter().map(|s| s.to_string()).collect(),
            ticks: TickRange::ALL,
        };
        // the run's order, whatever the order asked
        assert_eq!(
            sel(&["polyethylene", "natgas"]).goods_of(&run).unwrap(),
            ["natgas", "polyethylene"]
        );
        let PlotError::Selection { message, help } = sel(&["natgs"]).goods_of(&run).unwrap_err() else {
            panic!()
        };
        assert_eq!(message, "'natgs' is not a good of this run (--goods)");
        assert_eq!(
            help,
            "did you mean 'natgas'? the run's goods are natgas, ethylene, polyethylene"
        );
        let PlotError::Selection { message, help } = sel(&["natgs", "steel"]).goods_of(&run).unwrap_err() else {
            panic!()
        };
        assert!(message.starts_with("'natgs' and 'steel' are not goods"), "{message}");
        assert!(
            help.starts_with("did you mean 'natgas' for 'natgs'? the run's"),
            "{help}"
        );
        assert!(matches!(
            sel(&["natgas", ""]).goods_of(&run),
            Err(PlotError::Selection { .. })
        ));
    }
}
