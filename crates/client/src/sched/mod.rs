//! The scheduler's parts that `slots.rs` puts together: the waiting line (`queue`), the
//! learned host speeds (`speed`) and the pure choice of a slot (`choose`). The lock files
//! themselves, and when to take or free them, stay in `slots.rs` and `compile.rs`.

pub mod choose;
pub mod queue;
pub mod speed;
