//! `pricegrad validate FILE`: check a scenario and describe the economy.

use super::{load, ScenarioArgs, EXIT_PASS};

pub fn run(args: &ScenarioArgs) -> u8 {
    let economy = match load(args) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let goods = &economy.goods;
    let fixed = goods.fixed.iter().filter(|&&f| f).count();
    let splits = goods.endogenous().filter(|&g| goods.uses(g).len() > 1).count();
    println!("{}: valid", args.file.display());
    println!(
        "  {} goods ({} fixed-price, {} endogenous), {} firms in {} groups, {} input edges",
        goods.len(),
        fixed,
        goods.len() - fixed,
        economy.firms.len(),
        economy.groups.len(),
        economy.firms.edges()
    );
    println!(
        "  shape: {}",
        if splits == 0 {
            "a chain or tree (each endogenous good has at most one user)".to_string()
        } else {
            match splits {
                1 => "1 good is split between several users".to_string(),
                _ => format!("{splits} goods are split between several users"),
            }
        }
    );
    println!(
        "  market: {} (step {}); run: up to {} ticks, tolerance {:e}, seed {}",
        economy.market.rule.name(),
        economy.market.step,
        economy.run.max_ticks,
        economy.run.tolerance,
        economy.run.seed
    );
    EXIT_PASS
}
