//! Schedules (EventBridge Scheduler).

use std::sync::Arc;

use updraft_queues::Queues;
use updraft_types::Account;

pub struct Schedules {
    _queues: Arc<Queues>,
    _account: Account,
}

impl Schedules {
    pub fn open(queues: Arc<Queues>, account: Account) -> Result<Arc<Schedules>, String> {
        Ok(Arc::new(Schedules {
            _queues: queues,
            _account: account,
        }))
    }

    /// Starts firing schedules in the background.
    pub fn start(self: &Arc<Self>) {}
}
