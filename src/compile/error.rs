//! Why an expression cannot be compiled, as data: the expression's own parse error (with its
//! location in the expression), or a message and a fix. The command line turns it into text
//! (src/cli/compile.rs).

use crate::production::ExprError;
use crate::scenario::InputError;

/// Why an expression cannot be compiled (or the point is unusable).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CompileError {
    /// The expression does not parse; the error locates the problem in the expression.
    #[error("in the expression: {0}")]
    Expression(ExprError),
    /// The expression, the point or the name cannot be used: what is wrong, and how to fix it.
    #[error("{message}")]
    Rejected { message: String, help: String },
    /// The compiled scenario does not validate: a bug in the compiler.
    #[error("internal error: the compiled scenario does not validate:\n{0}")]
    Internal(InputError),
}

impl CompileError {
    /// How to fix it.
    pub fn help(&self) -> &str {
        match self {
            CompileError::Expression(e) => &e.help,
            CompileError::Rejected { help, .. } => help,
            CompileError::Internal(_) => "please report this expression to the developers",
        }
    }
}

/// A [`CompileError::Rejected`].
pub(super) fn fail(message: impl Into<String>, help: impl Into<String>) -> CompileError {
    CompileError::Rejected {
        message: message.into(),
        help: help.into(),
    }
}
