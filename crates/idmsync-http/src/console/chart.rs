//! The runs page's chart: duration and changes per run over time, drawn on the server as SVG, so
//! that it needs no script, no library and no network, and prints.

use maud::{html, Markup};

/// One run's bar in the chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    /// The run's id, its label.
    pub(crate) run: i64,
    /// Seconds it took (0 while running).
    pub(crate) seconds: f64,
    /// Rows it changed.
    pub(crate) changes: u64,
    /// It failed, was aborted or interrupted: drawn in the warning colour.
    pub(crate) failed: bool,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 110.0;
const LEFT: f64 = 56.0;
const MAX_STEP: f64 = 32.0;

/// Two bar charts over the same runs (oldest first): duration, then changes. Each has a title
/// and a description for screen readers; the runs table below it holds the same figures.
pub(crate) fn chart(points: &[Point]) -> Markup {
    html! {
        figure.chart aria-labelledby="chart-caption" {
            figcaption #chart-caption {
                @if points.len() == 1 { "The last run: how long it took and how many rows it changed." }
                @else { "The last " (points.len()) " runs, oldest on the left: how long each took and how many rows it changed." }
            }
            (bars(points, "Duration (seconds)", "duration", |p| p.seconds))
            (bars(points, "Changes (rows)", "changes", |p| p.changes as f64))
        }
    }
}

fn bars(points: &[Point], title: &str, id: &str, value: impl Fn(&Point) -> f64) -> Markup {
    let max = points.iter().map(&value).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 {
        (HEIGHT - 20.0) / max
    } else {
        0.0
    };
    // A few runs get bars of a readable width, not the whole chart.
    let step = if points.is_empty() {
        0.0
    } else {
        ((WIDTH - LEFT) / points.len() as f64).min(MAX_STEP)
    };
    let bar = (step * 0.7).max(1.0);
    let label = format_value(max);
    html! {
        svg.bars role="img" aria-labelledby={ (id) "-title" } viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 16.0) } width="100%" {
            title id={ (id) "-title" } { (title) ", highest " (label) }
            text x="0" y="12" class="axis" { (title) }
            text x="0" y="30" class="axis" { "max " (label) }
            line x1=(LEFT) y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) class="baseline" {}
            @for (i, p) in points.iter().enumerate() {
                @let h = (value(p) * scale).max(if value(p) > 0.0 { 1.0 } else { 0.0 });
                rect x=(LEFT + i as f64 * step) y=(HEIGHT - h) width=(bar) height=(h)
                    class=(if p.failed { "bar failed" } else { "bar" }) {
                    title { "run " (p.run) ": " (format_value(value(p))) }
                }
            }
            @if let (Some(first), Some(last)) = (points.first(), points.last()) {
                text x=(LEFT) y=(HEIGHT + 14.0) class="axis" { "run " (first.run) }
                text x=(WIDTH) y=(HEIGHT + 14.0) class="axis end" { "run " (last.run) }
            }
        }
    }
}

/// A figure as the chart labels it: whole numbers plainly, fractions to one decimal.
fn format_value(v: f64) -> String {
    if (v - v.round()).abs() < f64::EPSILON {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(run: i64, seconds: f64, changes: u64) -> Point {
        Point {
            run,
            seconds,
            changes,
            failed: run == 2,
        }
    }

    #[test]
    fn every_run_is_a_bar_with_its_figure_in_its_title() {
        let svg = chart(&[point(1, 1.5, 10), point(2, 3.0, 0), point(3, 0.0, 5)]).into_string();
        assert_eq!(svg.matches("<rect").count(), 6, "{svg}");
        assert!(svg.contains("run 1: 1.5"), "{svg}");
        assert!(svg.contains("run 3: 5"), "{svg}");
        assert!(svg.contains("bar failed"), "{svg}");
        assert!(svg.contains("max 10"), "{svg}");
    }

    #[test]
    fn no_runs_draw_empty_axes() {
        let svg = chart(&[]).into_string();
        assert!(!svg.contains("<rect"), "{svg}");
    }
}
