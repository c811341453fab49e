//! Async invocation delivery.

use std::sync::Arc;

use updraft_bus::Bus;
use updraft_invoker::Invoker;
use updraft_queues::Queues;

pub struct AsyncEvents {
    _queues: Arc<Queues>,
    _bus: Arc<Bus>,
    _invoker: Arc<Invoker>,
}

impl AsyncEvents {
    pub fn new(queues: Arc<Queues>, bus: Arc<Bus>, invoker: Arc<Invoker>) -> Arc<AsyncEvents> {
        Arc::new(AsyncEvents {
            _queues: queues,
            _bus: bus,
            _invoker: invoker,
        })
    }

    /// Starts delivering in the background.
    pub fn start(self: &Arc<Self>) {}
}
