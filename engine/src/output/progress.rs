//! Progress on stderr once a second: one line per second, plus the notes
//! other parts of the engine attach (a Kafka track's counts).

use super::seam::{Output, Tick};
use super::summary::render_progress;
use crate::Error;

#[derive(Debug, Default)]
pub struct Progress;

impl Output for Progress {
    fn name(&self) -> &str {
        "progress"
    }

    fn interval(&mut self, tick: &Tick<'_>) -> Result<(), Error> {
        let mut text = render_progress(tick.elapsed, tick.interval, tick.total, tick.vus);
        for note in tick.notes {
            text.push_str("\n  ");
            text.push_str(note);
        }
        eprintln!("{text}");
        Ok(())
    }
}
