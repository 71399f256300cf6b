//! Per-kind strategies (defaulting, validation, selectable fields), looked up by group and kind.

use crate::Strategy;

/// The strategy of a kind with no special rules.
pub struct DefaultStrategy;

impl Strategy for DefaultStrategy {}

/// The strategy for a group and kind; kinds without rules get [`DefaultStrategy`].
pub fn strategy_for(_group: &str, _kind: &str) -> &'static dyn Strategy {
    &DefaultStrategy
}
