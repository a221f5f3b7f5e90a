//! The built-in tools an agent can be given by name. Those that touch the system are confined:
//! files to a root folder, the web to an allow-list of hosts, each with size and time limits,
//! and none is available until configured. Nothing here writes or executes.

mod calculator;
mod clock;
mod files;
mod html;
mod web;

pub use calculator::Calculator;
pub use clock::CurrentTime;
pub use files::{FileRoot, ListFiles, ReadFile};
pub use web::{HttpGet, HttpLimits};
