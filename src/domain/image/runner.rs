//! The blocking pool for image work (decodes, resizes, encodes, large renders): bounded,
//! deadlined, and a panic inside is an error, never a dead worker.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    /// The job ran past the deadline; its thread finishes in the background, still counted.
    #[error("the picture took longer than {} s to process", .0.as_secs())]
    TimedOut(Duration),
    /// The job panicked (a decoder or encoder bug); the pool keeps working.
    #[error("the image worker panicked")]
    Panicked,
    /// The pool itself failed (closed, or the runtime is shutting down).
    #[error("the image pool failed")]
    Failed(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

/// Runs CPU-bound image work on tokio's blocking pool, at most `permits` jobs at once (one per
/// core by default), each within a deadline.
pub struct PipelineRunner {
    semaphore: Arc<Semaphore>,
    deadline: Duration,
}

impl PipelineRunner {
    /// `permits` 0 means one per core.
    pub fn new(permits: usize, deadline: Duration) -> Self {
        let permits = if permits == 0 {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        } else {
            permits
        };
        Self {
            semaphore: Arc::new(Semaphore::new(permits)),
            deadline,
        }
    }

    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkerError> {
        let permit = self
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|err| WorkerError::Failed(Arc::new(err)))?;
        // The permit moves into the task: an abandoned (timed-out) job still counts until it
        // really ends, so the pool never runs more than `permits` jobs.
        let task = tokio::task::spawn_blocking(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work));
            drop(permit);
            outcome
        });
        match tokio::time::timeout(self.deadline, task).await {
            Err(_) => Err(WorkerError::TimedOut(self.deadline)),
            Ok(Err(join)) => Err(WorkerError::Failed(Arc::new(join))),
            Ok(Ok(Err(_panic))) => {
                tracing::error!("an image job panicked");
                Err(WorkerError::Panicked)
            }
            Ok(Ok(Ok(result))) => Ok(result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_keeps_working() {
        let runner = PipelineRunner::new(1, Duration::from_secs(5));
        let outcome: Result<(), WorkerError> = runner.run(|| panic!("decoder bug")).await;
        assert!(matches!(outcome, Err(WorkerError::Panicked)), "{outcome:?}");
        // The single permit came back: the next job runs.
        assert_eq!(runner.run(|| 7).await.ok(), Some(7));
    }

    #[tokio::test]
    async fn a_job_past_the_deadline_times_out() {
        let runner = PipelineRunner::new(1, Duration::from_millis(50));
        let outcome = runner
            .run(|| std::thread::sleep(Duration::from_millis(400)))
            .await;
        assert!(
            matches!(outcome, Err(WorkerError::TimedOut(_))),
            "{outcome:?}"
        );
    }
}
