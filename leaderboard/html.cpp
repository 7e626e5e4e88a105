#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "leaderboard/grid.h"
#include "leaderboard/leaderboard.h"

namespace electra {
namespace {

using detail::GridRowKind;

std::string escape_html(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; margin: 24px 32px; color: #212529; background: #fff; }
h1 { font-size: 22px; margin: 0 0 16px; }
h2 { font-size: 18px; margin: 28px 0 12px; }
table.board { border-collapse: collapse; font-size: 13px; }
table.board th, table.board td { border: 1px solid #ced4da; padding: 5px 8px; text-align: center; white-space: nowrap; }
table.board th { background: #f1f3f5; }
table.board td.name { text-align: left; }
table.board tr.ours td { background: #fff4e6; }
table.board tr.delta td { background: #f8f9fa; color: #495057; font-style: italic; }
table.board .spread { color: #868e96; font-size: 11px; }
table.board .interval { color: #1c7ed6; font-size: 11px; }
table.board a { color: #1c7ed6; text-decoration: none; }
ul.notes { font-size: 12px; color: #495057; max-width: 1300px; padding-left: 18px; }
ul.notes li { margin: 3px 0; }
div.charts { display: flex; flex-wrap: wrap; gap: 18px; }
figure.chart { margin: 0; border: 1px solid #dee2e6; border-radius: 4px; padding: 8px; }
figure.chart figcaption { font-size: 13px; font-weight: bold; margin-bottom: 4px; }
.legend { font-size: 12px; margin-bottom: 10px; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
)";

constexpr const char* kOursColor = "#e8590c";
constexpr const char* kPublishedColor = "#adb5bd";
constexpr const char* kComparedColor = "#495057";

std::string render_chart(const LeaderboardTable& table, const LeaderboardColumn& column) {
  struct Bar {
    std::string name, label;
    double value, min, max;
    const char* color;
    std::optional<metrics::Interval> interval;  // ours: the reproduction interval
  };
  std::vector<Bar> bars;
  for (const auto& row : table.rows) {
    const auto it = row.cells.find(column.task);
    if (it == row.cells.end()) continue;
    const auto& cell = it->second;
    std::string label = format_fixed(cell.main.value, cell.main.decimals);
    if (cell.secondary) label = format_fixed(cell.secondary->value, cell.secondary->decimals) + " / " + label;
    const char* color = row.ours ? kOursColor : row.name == table.compare ? kComparedColor : kPublishedColor;
    std::optional<metrics::Interval> interval;
    if (row.ours && cell.interval) {
      interval = cell.interval;
      label += " \u00b1 " + format_fixed((cell.interval->high - cell.interval->low) / 2, 2);
      if (cell.verdict) label += std::string(" ") + detail::verdict_mark(*cell.verdict);
    }
    bars.push_back(Bar{row.ours ? row.name + " (ours)" : row.name, label, cell.main.value, cell.min, cell.max, color, interval});
  }
  constexpr int kWidth = 480, kLabelWidth = 190, kPlotWidth = 170, kRowHeight = 22, kTop = 6, kAxis = 22;
  double lo = 0.0;
  for (const auto& bar : bars) {
    lo = std::min(lo, std::floor(bar.min / 20.0) * 20.0);
    if (bar.interval) lo = std::min(lo, std::floor(bar.interval->low / 20.0) * 20.0);
  }
  const double hi = 100.0;
  auto x_of = [&](double v) { return kLabelWidth + (std::clamp(v, lo, hi) - lo) / (hi - lo) * kPlotWidth; };
  const int height = kTop + static_cast<int>(std::max<size_t>(bars.size(), 1)) * kRowHeight + kAxis;
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" class="bars" data-task="{}" width="{}" height="{}" viewBox="0 0 {} {}" role="img">)",
      escape_html(column.task), kWidth, height, kWidth, height);
  svg += "\n";
  const int plot_bottom = kTop + static_cast<int>(bars.size()) * kRowHeight;
  for (double tick = lo; tick <= hi + 1e-9; tick += 20.0) {
    const double x = x_of(tick);
    svg += fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#e9ecef"/>)", x, kTop, x, plot_bottom);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" text-anchor="middle" fill="#868e96">{}</text>)", x,
                       plot_bottom + 14, static_cast<int>(tick));
    svg += "\n";
  }
  if (bars.empty())
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" fill="#868e96">no scores</text>)", kLabelWidth, kTop + 15);
  const double zero = x_of(0.0);
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& bar = bars[i];
    const double y = kTop + static_cast<double>(i) * kRowHeight;
    const double x = x_of(bar.value);
    std::string name = bar.name;
    if (name.size() > 30) name = name.substr(0, 28) + "..";
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end" fill="#212529">{}</text>)",
                       kLabelWidth - 6, y + 15, escape_html(name));
    svg += fmt::format(R"(<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{}" fill="{}"><title>{}: {}</title></rect>)",
                       std::min(zero, x), y + 4, std::max(std::abs(x - zero), 1.0), kRowHeight - 8, bar.color,
                       escape_html(bar.name), escape_html(bar.label));
    if (bar.max > bar.min)
      svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#212529" stroke-width="1.5"/>)",
                         x_of(bar.min), y + kRowHeight / 2.0, x_of(bar.max), y + kRowHeight / 2.0);
    if (bar.interval)
      svg += fmt::format(
          R"(<rect class="interval" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{}" fill="#1c7ed6" fill-opacity="0.35" stroke="#1c7ed6" stroke-width="2"><title>reproduction interval {} to {}</title></rect>)",
          x_of(bar.interval->low), y + 1.0, std::max(x_of(bar.interval->high) - x_of(bar.interval->low), 4.0), kRowHeight - 2,
          format_fixed(bar.interval->low, 2), format_fixed(bar.interval->high, 2));
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11" fill="#212529">{}</text>)",
                       kLabelWidth + kPlotWidth + 6.0, y + 15, escape_html(bar.label));
    svg += "\n";
  }
  return svg + "</svg>";
}

}  // namespace

std::string render_leaderboard_html(const LeaderboardTable& table) {
  const auto grid = detail::make_grid(table, "in bold");
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<title>" + escape_html(table.spec.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  out += "<h1>" + escape_html(table.spec.title) + "</h1>\n<table class=\"board\">\n<thead><tr><th></th>";
  for (size_t i = 0; i < grid.headers.size(); ++i) {
    out += "<th>" + escape_html(grid.headers[i]);
    if (!grid.metric_labels[i].empty()) out += "<br>(" + escape_html(grid.metric_labels[i]) + ")";
    out += "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : grid.rows) {
    const char* kind = row.kind == GridRowKind::ours ? "ours" : row.kind == GridRowKind::delta ? "delta" : "published";
    out += fmt::format("<tr class=\"{}\"><td class=\"name\">", kind);
    if (row.kind == GridRowKind::ours)
      out += "<b><i>" + escape_html(row.name) + "</i></b> (ours)";
    else if (!row.link.empty())
      out += "<a href=\"" + escape_html(row.link) + "\">" + escape_html(row.name) + "</a>";
    else
      out += escape_html(row.name);
    out += "</td>";
    for (const auto& cell : row.cells) {
      out += "<td>";
      out += cell.best ? "<b>" + escape_html(cell.value) + "</b>" : escape_html(cell.value);
      if (!cell.interval.empty()) out += " <span class=\"interval\">" + escape_html(cell.interval) + "</span>";
      if (!cell.verdict.empty()) out += " <span class=\"verdict\">" + escape_html(cell.verdict) + "</span>";
      if (!cell.spread.empty()) out += "<br><span class=\"spread\">" + escape_html(cell.spread) + "</span>";
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n<ul class=\"notes\">\n";
  for (const auto& note : grid.footnotes) out += "<li>" + escape_html(note) + "</li>\n";
  out += "</ul>\n<h2>Per task</h2>\n";
  out += fmt::format(
      "<div class=\"legend\"><span style=\"background:{}\"></span>ours (bar: median; line: min&ndash;max over seeds; "
      "blue band: reproduction interval)"
      "<span style=\"background:{}\"></span>published",
      kOursColor, kPublishedColor);
  if (!table.compare.empty())
    out += fmt::format("<span style=\"background:{}\"></span>{}", kComparedColor, escape_html(table.compare));
  out += "</div>\n<div class=\"charts\">\n";
  for (const auto& column : table.spec.columns) {
    out += "<figure class=\"chart\"><figcaption>" + escape_html(column.header) + " (" + escape_html(column.metric_label) +
           ", " + column.split + ")</figcaption>\n";
    out += render_chart(table, column) + "\n</figure>\n";
  }
  out += "</div>\n</body>\n</html>\n";
  return out;
}

}  // namespace electra
