//! Work a host call hands to its VU's task, to be polled outside the VU's
//! fiber.
//!
//! A host call runs on the VU's fiber stack, and so does every future it
//! awaits: each poll of an HTTP exchange (the socket, the head parser, the
//! timeout) pushes several KiB of frames onto that stack. The stack is the
//! VU's own memory, so at thousands of VUs every poll touches cache lines
//! no other VU shares, and the deepest point stays resident while the VU
//! sleeps. A host call that hands its exchange here instead waits on a
//! shallow future; the VU's task (see [`Driven`]) polls the exchange on the
//! worker thread's stack, which every VU of the thread shares, and resumes
//! the fiber once it is done.
//!
//! A job is handed off as what it needs ([`Start`]), not as its future:
//! the future (an HTTP exchange's is over a KiB) is built and boxed when
//! the VU's task first polls it, on the worker thread's stack, and the
//! fiber's stack only ever holds the small inputs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

pub type Job<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A job handed off and not started yet: what it needs, made into its
/// future by the VU's task.
pub trait Start: Send + 'static {
    type Output: Send + 'static;

    fn start(self) -> Job<Self::Output>;
}

/// A future is a job that needs nothing more to start.
impl<T: Send + 'static> Start for Job<T> {
    type Output = T;

    fn start(self) -> Job<T> {
        self
    }
}

/// A VU's job in its three states, each its own field rather than an
/// enum's variants: a job handed off or an output taken then moves as
/// itself, not as the whole slot through a temporary on the fiber stack.
/// Both happen at the deepest point of a VU's call, and a Rust VU's fiber
/// stack is now within one page (docs/PERFORMANCE.md, "A request split,
/// sent and recorded off the fiber").
struct Slot<S: Start> {
    /// Handed off, not started.
    ready: Option<S>,
    /// Started, not done.
    running: Option<Job<S::Output>>,
    /// Done, its output not taken yet.
    done: Option<S::Output>,
}

impl<S: Start> Slot<S> {
    const IDLE: Self = Slot {
        ready: None,
        running: None,
        done: None,
    };
}

/// One VU's slot for work handed off by its host calls: one job at a time,
/// as a VU makes one host call at a time.
pub struct Offload<S: Start> {
    slot: Mutex<Slot<S>>,
}

impl<S: Start> Offload<S> {
    pub fn new() -> Arc<Self> {
        Arc::new(Offload {
            slot: Mutex::new(Slot::IDLE),
        })
    }

    fn slot(&self) -> MutexGuard<'_, Slot<S>> {
        // A panic while the lock was held left the slot as it was; the
        // slot stays usable (the VU's call ends with that panic anyway).
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `job` to the VU's task, which starts it once the call waits
    /// (see [`Offload::wait`]).
    pub fn hand(&self, job: S) {
        let mut slot = self.slot();
        slot.running = None;
        slot.done = None;
        slot.ready = Some(job);
    }

    /// Waits, on the fiber, for the output of the job handed off. The
    /// wait is polled only when the fiber is resumed, which [`Driven`]
    /// does once the job is done: it needs no waker of its own.
    pub fn wait(&self) -> impl Future<Output = S::Output> + Send + '_ {
        std::future::poll_fn(move |_| match self.slot().done.take() {
            Some(out) => Poll::Ready(out),
            None => Poll::Pending,
        })
    }

    /// Polls the job handed off, if there is one.
    fn drive(&self, cx: &mut Context<'_>) -> Drive {
        let mut slot = self.slot();
        if let Some(start) = slot.ready.take() {
            slot.running = Some(start.start());
        }
        let Some(job) = slot.running.as_mut() else {
            return Drive::Idle;
        };
        match job.as_mut().poll(cx) {
            Poll::Ready(out) => {
                // Its output waits in the slot for the fiber.
                slot.running = None;
                slot.done = Some(out);
                Drive::Done
            }
            Poll::Pending => Drive::Running,
        }
    }

    /// Drops a job left unfinished (its call was cut off).
    fn clear(&self) {
        *self.slot() = Slot::IDLE;
    }
}

/// What [`Offload::drive`] found.
enum Drive {
    /// No job: the call waits on something else, if it waits.
    Idle,
    /// A job, not done: the call waits on it.
    Running,
    /// A job, done just now: the call can go on.
    Done,
}

/// A call into a VU's instance with the work its host calls hand off
/// polled here, on the caller's stack: the call runs until it waits; if
/// it waits on a handed-off job, the job is polled, and the call resumed
/// when the job is done.
pub struct Driven<'a, F, S: Start> {
    call: F,
    offload: &'a Offload<S>,
}

impl<'a, F, S: Start> Driven<'a, F, S> {
    pub fn new(call: F, offload: &'a Offload<S>) -> Self {
        Driven { call, offload }
    }
}

impl<F: Future + Unpin, S: Start> Future for Driven<'_, F, S> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // A job not done yet is polled first: a wake-up is most often its
        // socket's, and resuming the fiber before the job is done would
        // only switch stacks twice to find it waiting.
        if let Drive::Running = this.offload.drive(cx) {
            return Poll::Pending;
        }
        loop {
            if let Poll::Ready(out) = Pin::new(&mut this.call).poll(cx) {
                return Poll::Ready(out);
            }
            // The call waits: on a job it just handed off (polled now, as
            // it may be done at once), or on something else.
            match this.offload.drive(cx) {
                Drive::Done => continue,
                Drive::Idle | Drive::Running => return Poll::Pending,
            }
        }
    }
}

impl<F, S: Start> Drop for Driven<'_, F, S> {
    fn drop(&mut self) {
        // A call cut off by its deadline leaves its job behind: drop it
        // with the call. The job held the VU's connection mid-exchange,
        // so the VU's next request opens a new one.
        self.offload.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::{Driven, Job, Offload, Start};

    /// A call (as the fiber's would be) that hands `job` off and adds one
    /// to its output, counting how often it is polled.
    fn call<'a>(
        offload: &'a Offload<Job<u32>>,
        job: impl std::future::Future<Output = u32> + Send + 'static,
        polls: &'a Cell<u32>,
    ) -> impl std::future::Future<Output = u32> + 'a {
        let mut job: Option<Job<u32>> = Some(Box::pin(job));
        let mut wait = None;
        std::future::poll_fn(move |cx| {
            polls.set(polls.get() + 1);
            let wait = wait.get_or_insert_with(|| {
                offload.hand(job.take().unwrap());
                Box::pin(offload.wait())
            });
            wait.as_mut().poll(cx).map(|out| out + 1)
        })
    }

    #[test]
    fn a_job_is_polled_by_the_caller_and_its_output_resumes_the_call() {
        let offload = Offload::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let polls = Cell::new(0);
        let job = async move { rx.await.unwrap_or(0) };
        let mut driven = pin!(Driven::new(Box::pin(call(&offload, job, &polls)), &offload));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(polls.get(), 1, "the call ran until it handed the job off");
        // Woken again with the job not done: the job is polled, the call
        // (the fiber) is not resumed for nothing.
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(polls.get(), 1);
        tx.send(41).unwrap();
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Ready(42));
        assert_eq!(polls.get(), 2, "resumed once, with the job's output");
    }

    #[test]
    fn a_job_done_at_once_resumes_the_call_in_the_same_poll() {
        let offload = Offload::new();
        let polls = Cell::new(0);
        let mut driven = pin!(Driven::new(
            Box::pin(call(&offload, async { 6 }, &polls)),
            &offload
        ));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Ready(7));
        assert_eq!(polls.get(), 2);
    }

    #[test]
    fn a_call_cut_off_drops_its_unfinished_job_and_the_next_call_starts_clean() {
        let offload = Offload::new();
        let held = Arc::new(());
        let job = {
            let held = held.clone();
            async move {
                std::future::pending::<()>().await;
                drop(held);
                0
            }
        };
        let polls = Cell::new(0);
        {
            let mut driven = pin!(Driven::new(Box::pin(call(&offload, job, &polls)), &offload));
            let mut cx = Context::from_waker(Waker::noop());
            assert_eq!(driven.as_mut().poll(&mut cx), Poll::Pending);
            assert_eq!(Arc::strong_count(&held), 2, "the job holds its state");
        }
        assert_eq!(Arc::strong_count(&held), 1, "dropped with the call");
        let mut driven = pin!(Driven::new(
            Box::pin(call(&offload, async { 1 }, &polls)),
            &offload
        ));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Ready(2));
    }

    /// A job made into its future only when started, counting starts.
    struct Counted(Arc<std::sync::atomic::AtomicU32>);

    impl Start for Counted {
        type Output = u32;

        fn start(self) -> Job<u32> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            Box::pin(async move { n * 10 })
        }
    }

    #[test]
    fn a_job_handed_off_is_started_by_the_caller_not_by_the_call() {
        let offload = Offload::new();
        let starts = Arc::new(std::sync::atomic::AtomicU32::new(0));
        offload.hand(Counted(starts.clone()));
        let mut wait = pin!(offload.wait());
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(
            starts.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "handing off does not start the job"
        );
        let mut driven = pin!(Driven::new(wait, &offload));
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Ready(10));
        assert_eq!(starts.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn a_call_that_hands_off_nothing_is_polled_as_it_is() {
        let offload = Offload::<Job<u32>>::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut driven = pin!(Driven::new(
            Box::pin(async { rx.await.unwrap_or(0) }),
            &offload
        ));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Pending);
        tx.send(3).unwrap();
        assert_eq!(driven.as_mut().poll(&mut cx), Poll::Ready(3));
    }
}
