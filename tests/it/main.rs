//! Integration tests: the real binary, over real loopback sockets, against
//! the project's simulated pool (throttling, faults, counters) and against
//! moto, a third-party Cognito emulator.

mod architecture;
mod audit;
mod bad_input;
mod contain;
mod corpus;
mod docs;
mod dynamodb;
mod endpoint;
mod examples;
mod faults;
mod files;
mod fleet;
mod from_pool;
mod generate;
mod identity;
mod input;
mod ledger;
pub mod moto;
mod one_job;
mod operator;
mod plan;
mod precheck;
mod rate_auto;
mod resume;
mod run;
pub mod s3;
mod scripted;
mod sign_out;
mod signals;
mod stop;
mod support;
mod throttling;
mod usage;
