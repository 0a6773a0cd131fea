//! Alerting rules: files and expressions.

pub mod expr;
pub mod file;

pub use file::{Group, Rule, load, parse};
