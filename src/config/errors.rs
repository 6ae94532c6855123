//! Input errors, collected so that every bad input is reported at once.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The action.yml name of the input at fault.
    pub input: &'static str,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.message)
    }
}

/// All input errors of one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputErrors(pub Vec<InputError>);

impl InputErrors {
    pub fn push(&mut self, input: &'static str, message: impl Into<String>) {
        self.0.push(InputError {
            input,
            message: message.into(),
        });
    }

    /// Keeps the value of `result`, recording its error against `input`.
    pub fn take<T>(&mut self, input: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.push(input, m)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} invalid input(s):", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}
