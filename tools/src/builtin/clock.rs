//! `current_time`: models do not know what day it is.

use anymodel_core::schemars::{self, JsonSchema};
use anymodel_core::{ToolError, TypedTool, async_trait};
use serde::Deserialize;

/// Tells the current date and time.
#[derive(Debug, Clone, Copy, Default)]
pub struct CurrentTime;

/// `current_time` takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

#[async_trait]
impl TypedTool for CurrentTime {
    const NAME: &'static str = "current_time";
    const DESCRIPTION: &'static str = "Tells the current local date, time, weekday and UTC offset.";
    type Args = NoArgs;
    type Output = String;

    async fn run(&self, _: NoArgs) -> Result<String, ToolError> {
        Ok(chrono::Local::now().format("%A %Y-%m-%d %H:%M:%S (UTC%:z)").to_string())
    }
}
