//! TEMPORARY STUB: replaced by the real expression module.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError { pub offset: usize, pub len: usize, pub message: String, pub help: String }
impl std::fmt::Display for ExprError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.message) } }
impl std::error::Error for ExprError {}
#[derive(Debug, Clone)]
pub struct Expr { vars: Vec<String>, src: String }
impl Expr {
    pub fn parse(src: &str) -> Result<Expr, ExprError> { Ok(Expr { vars: vec![], src: src.into() }) }
    pub fn variables(&self) -> &[String] { &self.vars }
    pub fn variable_span(&self, _i: usize) -> (usize, usize) { (0, 1) }
    pub fn with_variable_order(&self, _order: &[String]) -> Result<Expr, String> { Ok(self.clone()) }
    pub fn eval(&self, _x: &[f64]) -> f64 { 0.0 }
    pub fn gradient(&self, _x: &[f64], _grad: &mut [f64]) -> f64 { 0.0 }
    pub fn hessian(&self, _x: &[f64], _grad: &mut [f64], _hess: &mut [f64]) -> f64 { 0.0 }
    pub fn len(&self) -> usize { 0 }
    pub fn is_empty(&self) -> bool { true }
    pub fn source(&self) -> &str { &self.src }
    pub fn is_smooth(&self) -> bool { true }
}
