//! The columns of the three tables (goods, firms, inputs): their names, which are required,
//! which hold texts, and their positions, by which the readers and the rows refer to them.

/// A column a table may have.
pub struct Column {
    pub name: &'static str,
    pub required: bool,
}

const fn col(name: &'static str, required: bool) -> Column {
    Column { name, required }
}

/// `goods.csv`: one row per good.
pub const GOODS: [Column; 4] = [
    col("name", true),
    col("price", false),
    col("endowment", false),
    col("initial_price", false),
];
pub const G_NAME: usize = 0;
/// The columns of each table that hold texts (the rest hold numbers).
pub const GOODS_TEXT: [usize; 1] = [G_NAME];
pub const FIRMS_TEXT: [usize; 6] = [F::NAME, F::OUTPUT, F::PRODUCTION, F::FAMILY, F::RULE, F::FORM];
pub const INPUTS_TEXT: [usize; 2] = [I_FIRM, I_GOOD];

/// `firms.csv`: one row per firm (or group of `count` firms).
pub const FIRMS: [Column; 16] = [
    col("name", true),
    col("output", true),
    col("production", false),
    col("family", false),
    col("scale", false),
    col("rho", false),
    col("returns", false),
    col("exponent", false),
    col("count", false),
    col("productivity", false),
    col("productivity_spread", false),
    col("rule", false),
    col("rate", false),
    col("form", false),
    col("noise", false),
    col("activation", false),
];
/// The positions of the firms table's columns in [`FIRMS`].
pub struct F;
impl F {
    pub const NAME: usize = 0;
    pub const OUTPUT: usize = 1;
    pub const PRODUCTION: usize = 2;
    pub const FAMILY: usize = 3;
    pub const SCALE: usize = 4;
    pub const RHO: usize = 5;
    pub const RETURNS: usize = 6;
    pub const EXPONENT: usize = 7;
    pub const COUNT: usize = 8;
    pub const PRODUCTIVITY: usize = 9;
    pub const SPREAD: usize = 10;
    pub const RULE: usize = 11;
    pub const RATE: usize = 12;
    pub const FORM: usize = 13;
    pub const NOISE: usize = 14;
    pub const ACTIVATION: usize = 15;
}

/// `inputs.csv`: one row per input of a firm with a production family.
pub const INPUTS: [Column; 3] = [col("firm", true), col("good", true), col("param", false)];
pub const I_FIRM: usize = 0;
pub const I_GOOD: usize = 1;
pub const I_PARAM: usize = 2;
