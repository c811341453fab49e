//! Event source mappings.

use std::sync::Arc;

use updraft_invoker::Invoker;
use updraft_queues::Queues;

pub struct Mappings {
    _queues: Arc<Queues>,
    _invoker: Arc<Invoker>,
}

impl Mappings {
    pub fn open(queues: Arc<Queues>, invoker: Arc<Invoker>) -> Result<Arc<Mappings>, String> {
        Ok(Arc::new(Mappings {
            _queues: queues,
            _invoker: invoker,
        }))
    }

    /// Starts the pollers of enabled mappings.
    pub fn start(self: &Arc<Self>) {}
}
