//! `docs/bench-scaling.svg`: wall time against directory size, one panel per scenario and one
//! line per source and database, on log-log axes (equal growth reads as equal slope, and a
//! slope of 1 is linear scaling). Hand-written SVG: no plotting dependency for five panels.

use std::fmt::Write as _;

use super::options::Scenario;
use super::report::Row;

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The panel.
    pub scenario: Scenario,
    /// The legend text (`ldap → postgres`).
    pub label: String,
    /// (users, median wall seconds), by increasing users.
    pub points: Vec<(f64, f64)>,
}

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 300.0;
const MARGIN_L: f64 = 60.0;
const MARGIN_R: f64 = 20.0;
const MARGIN_T: f64 = 40.0;
const MARGIN_B: f64 = 90.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// The series of the rows that have a median: one per (scenario, source, database).
pub fn series(rows: &[Row]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for row in rows {
        let Some(wall) = row.wall else { continue };
        let label = format!("{} → {}", row.source, row.db);
        let point = (row.size.users() as f64, wall.max(0.001));
        match out
            .iter_mut()
            .find(|s| s.scenario == row.scenario && s.label == label)
        {
            Some(series) => series.points.push(point),
            None => out.push(Series {
                scenario: row.scenario,
                label,
                points: vec![point],
            }),
        }
    }
    for series in &mut out {
        series.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// The whole figure: a grid of panels two wide, scenarios a to e.
pub fn render(series: &[Series]) -> String {
    let mut labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let colour = |label: &str| {
        let i = labels.iter().position(|l| *l == label).unwrap_or(0);
        COLOURS[i % COLOURS.len()]
    };
    let rows = Scenario::ALL.len().div_ceil(2);
    let (width, height) = (PANEL_W * 2.0, PANEL_H * rows as f64);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let xs = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let ys = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    for (i, scenario) in Scenario::ALL.into_iter().enumerate() {
        let x0 = PANEL_W * (i % 2) as f64;
        let y0 = PANEL_H * (i / 2) as f64;
        let panel = Panel { x0, y0, xs, ys };
        panel.axes(&mut out, scenario);
        for (k, s) in series.iter().filter(|s| s.scenario == scenario).enumerate() {
            panel.line(&mut out, s, colour(&s.label), k);
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Decade bounds (log10) around every value, at least one decade wide.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| *v > 0.0) {
        lo = lo.min(v.log10().floor());
        hi = hi.max(v.log10().ceil());
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    (lo, hi.max(lo + 1.0))
}

/// One panel's placement and scales (log10 ranges).
struct Panel {
    x0: f64,
    y0: f64,
    xs: (f64, f64),
    ys: (f64, f64),
}

impl Panel {
    fn x(&self, users: f64) -> f64 {
        let plot = PANEL_W - MARGIN_L - MARGIN_R;
        self.x0 + MARGIN_L + (users.log10() - self.xs.0) / (self.xs.1 - self.xs.0) * plot
    }

    fn y(&self, secs: f64) -> f64 {
        let plot = PANEL_H - MARGIN_T - MARGIN_B;
        self.y0 + MARGIN_T + plot - (secs.log10() - self.ys.0) / (self.ys.1 - self.ys.0) * plot
    }

    fn axes(&self, out: &mut String, scenario: Scenario) {
        let w = "writing to a String cannot fail";
        let (left, right) = (self.x(10f64.powf(self.xs.0)), self.x(10f64.powf(self.xs.1)));
        let (bottom, top) = (self.y(10f64.powf(self.ys.0)), self.y(10f64.powf(self.ys.1)));
        writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">({scenario}) {}</text>",
            self.x0 + MARGIN_L,
            self.y0 + 22.0,
            escape(scenario.description())
        )
        .expect(w);
        writeln!(
            out,
            "<path d=\"M{left:.1} {top:.1} V{bottom:.1} H{right:.1}\" stroke=\"black\" fill=\"none\"/>"
        )
        .expect(w);
        for decade in (self.xs.0 as i32)..=(self.xs.1 as i32) {
            let x = self.x(10f64.powi(decade));
            writeln!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 14.0,
                users_label(decade)
            )
            .expect(w);
        }
        for decade in (self.ys.0 as i32)..=(self.ys.1 as i32) {
            let y = self.y(10f64.powi(decade));
            writeln!(
                out,
                "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} s</text>",
                left - 4.0,
                y + 4.0,
                10f64.powi(decade)
            )
            .expect(w);
        }
        writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">users (log)</text>",
            (left + right) / 2.0,
            bottom + 28.0
        )
        .expect(w);
    }

    /// A series' polyline, its points, and its legend entry (the `k`th of the panel).
    fn line(&self, out: &mut String, series: &Series, colour: &str, k: usize) {
        let w = "writing to a String cannot fail";
        let points: Vec<String> = series
            .points
            .iter()
            .map(|&(u, s)| format!("{:.1},{:.1}", self.x(u), self.y(s)))
            .collect();
        writeln!(
            out,
            "<polyline points=\"{}\" stroke=\"{colour}\" stroke-width=\"2\" fill=\"none\"/>",
            points.join(" ")
        )
        .expect(w);
        for point in &points {
            let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
            writeln!(
                out,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>"
            )
            .expect(w);
        }
        let legend_y = self.y0 + PANEL_H - MARGIN_B + 44.0 + 13.0 * (k / 2) as f64;
        let legend_x = self.x0 + MARGIN_L + 180.0 * (k % 2) as f64;
        writeln!(
            out,
            "<rect x=\"{legend_x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            legend_y - 9.0,
            legend_x + 14.0,
            legend_y,
            escape(&series.label)
        )
        .expect(w);
    }
}

/// 10^decade users as `10k`, `1M`.
fn users_label(decade: i32) -> String {
    match decade {
        ..=2 => format!("{}", 10f64.powi(decade)),
        3..=5 => format!("{}k", 10f64.powi(decade - 3)),
        _ => format!("{}M", 10f64.powi(decade - 6)),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Vec<Series> {
        vec![
            Series {
                scenario: Scenario::A,
                label: "ldap → postgres".into(),
                points: vec![(1e4, 1.5), (1e5, 14.0)],
            },
            Series {
                scenario: Scenario::C,
                label: "file → sqlite".into(),
                points: vec![(1e4, 0.2), (1e5, 0.9)],
            },
        ]
    }

    #[test]
    fn the_plot_has_a_line_per_series_and_a_panel_per_scenario() {
        let svg = render(&example());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches("font-weight=\"bold\"").count(), 5);
        assert!(svg.contains("ldap → postgres"));
        assert!(svg.contains(">10k<") && svg.contains(">100k<"), "{svg}");
        assert_eq!(svg, render(&example()), "deterministic");
    }

    #[test]
    fn log_scales_put_decades_at_equal_distances() {
        let panel = Panel {
            x0: 0.0,
            y0: 0.0,
            xs: (4.0, 6.0),
            ys: (-1.0, 2.0),
        };
        let step = panel.x(1e5) - panel.x(1e4);
        assert!((panel.x(1e6) - panel.x(1e5) - step).abs() < 1e-9);
        assert!(panel.y(10.0) < panel.y(1.0), "larger times are higher up");
        assert_eq!(bounds([0.2, 14.0].into_iter()), (-1.0, 2.0));
        assert_eq!(bounds(std::iter::empty()), (0.0, 1.0));
        assert_eq!(users_label(4), "10k");
        assert_eq!(users_label(6), "1M");
    }
}
